//! Client addresses: which header a reverse proxy writes the client's address into,
//! and which peers are such proxies. Without both, the peer address is the client's,
//! so no client can write the address recorded in sessions, the audit trail and the
//! rate limits.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub client_ip_header: Option<String>,
    pub trusted_proxies: Vec<String>,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            client_ip_header: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Clients {
    /// The header a trusted proxy writes (`X-Forwarded-For`, `X-Real-IP`), read right
    /// to left; `None` uses the peer address.
    pub client_ip_header: Option<String>,
    /// Peers whose header is believed, as addresses or networks.
    pub trusted_proxies: Vec<IpNet>,
}

impl Clients {
    pub fn from_raw(raw: Raw) -> Result<Clients, ConfigError> {
        let header = raw
            .client_ip_header
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        if let Some(header) = &header {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if !header.chars().all(token) {
                return Err(invalid(
                    "client_ip_header",
                    format!("`{header}` is not a header name"),
                ));
            }
            // RFC 7239's `for=` syntax is not read: every hop would be garbage, and
            // every client would be taken for the proxy.
            if header.eq_ignore_ascii_case("forwarded") {
                return Err(invalid(
                    "client_ip_header",
                    "the Forwarded header (RFC 7239) is not read; have the proxy write \
                     X-Forwarded-For or X-Real-IP",
                ));
            }
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|text| parse_network(text).map_err(|e| invalid("trusted_proxies", e)))
            .collect::<Result<Vec<_>, _>>()?;
        match (&header, trusted_proxies.is_empty()) {
            (Some(_), true) => Err(invalid(
                "trusted_proxies",
                "client_ip_header is set but no proxy is trusted: list the proxies' addresses",
            )),
            (None, false) => Err(invalid(
                "client_ip_header",
                "trusted_proxies are listed but no header is named: set the header they write \
                 (usually X-Forwarded-For)",
            )),
            _ => Ok(Clients {
                client_ip_header: header,
                trusted_proxies,
            }),
        }
    }

    /// Whether `peer` is a trusted proxy.
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

/// `10.0.0.0/8`, `fd00::/8`, or a single address. An IPv4-mapped network
/// (`::ffff:10.0.0.0/104`) is taken as the IPv4 one it names: peers are compared in
/// their canonical form, so as written it would match nobody.
pub(crate) fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let network = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an address nor a network like 10.0.0.0/8"))?;
    Ok(match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(network),
            None => network,
        },
        _ => network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_mapped_networks_are_taken_as_ipv4() {
        assert_eq!(
            parse_network("::ffff:10.0.0.0/104").unwrap(),
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_network("::ffff:127.0.0.1").unwrap(),
            "127.0.0.1/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(
            parse_network("fd00::/8").unwrap(),
            "fd00::/8".parse::<IpNet>().unwrap()
        );
    }

    fn clients(header: Option<&str>, proxies: &[&str]) -> Result<Clients, ConfigError> {
        Clients::from_raw(Raw {
            client_ip_header: header.map(str::to_string),
            trusted_proxies: proxies.iter().map(|p| p.to_string()).collect(),
        })
    }

    #[test]
    fn a_header_needs_trusted_proxies_and_the_reverse() {
        assert!(clients(None, &[]).is_ok());
        let both = clients(Some("X-Forwarded-For"), &["10.0.0.0/8", "::1"]).unwrap();
        assert!(both.trusts("10.1.2.3".parse().unwrap()));
        assert!(both.trusts("::1".parse().unwrap()));
        assert!(both.trusts("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!both.trusts("11.0.0.1".parse().unwrap()));
        assert!(clients(Some("X-Forwarded-For"), &[]).is_err());
        assert!(clients(None, &["127.0.0.1"]).is_err());
        assert!(clients(Some("X Forwarded"), &["127.0.0.1"]).is_err());
        assert!(clients(Some("X-Real-IP"), &["localhost"]).is_err());
    }
}
