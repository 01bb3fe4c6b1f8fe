//! The browser and system a message names, from a closed vocabulary: a User-Agent
//! is whatever the client sent, so mail never repeats it (its URLs and words would
//! reach the inbox under our sender).

/// Browsers by a token of their User-Agent, most specific first: Edge, Opera and the
/// others also say "Chrome", and Chrome also says "Safari".
const BROWSERS: [(&str, &[&str]); 8] = [
    ("Edge", &["edg/", "edga/", "edgios/"]),
    ("Opera", &["opr/", "opera"]),
    ("Samsung Internet", &["samsungbrowser/"]),
    ("Vivaldi", &["vivaldi/"]),
    ("Firefox", &["firefox/", "fxios/"]),
    ("Internet Explorer", &["trident/", "msie "]),
    ("Chrome", &["chrome/", "crios/", "chromium/"]),
    ("Safari", &["safari/"]),
];

/// Systems, most specific first: iOS says "like Mac OS X", Android and ChromeOS say
/// "Linux".
const SYSTEMS: [(&str, &[&str]); 6] = [
    ("iOS", &["iphone", "ipad", "ipod"]),
    ("Android", &["android"]),
    ("ChromeOS", &["cros "]),
    ("Windows", &["windows"]),
    ("macOS", &["macintosh", "mac os x"]),
    ("Linux", &["linux", "x11"]),
];

fn first_match(agent: &str, table: &[(&'static str, &[&str])]) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, tokens)| tokens.iter().any(|token| agent.contains(token)))
        .map(|(name, _)| *name)
}

/// "Firefox on Linux", "Safari on iOS", "an unknown browser on Windows", "an unknown
/// browser".
pub fn described(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or("").to_ascii_lowercase();
    let browser = first_match(&agent, &BROWSERS).unwrap_or("an unknown browser");
    match first_match(&agent, &SYSTEMS) {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::described;

    #[test]
    fn common_agents_are_named_and_anything_else_is_unknown() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on macOS"),
            ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"),
            ("curl/8.5.0", "an unknown browser"),
            ("Visit https://evil.example/claim now on Windows", "an unknown browser on Windows"),
        ];
        for (agent, expected) in cases {
            assert_eq!(described(Some(agent)), expected, "{agent}");
        }
        assert_eq!(described(None), "an unknown browser");
    }
}
