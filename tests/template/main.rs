//! Renaming a clone with cargo-generate: the `.liquid` siblings render, for the
//! template's own name, exactly into the files beside them (so they cannot drift),
//! and, for another name, into a project that builds and passes its settings checks.
//! The slow check (`#[ignore]`; CI runs it with `cargo test --test template --
//! --ignored`) adds a feature with a setting to the renamed project, touching only its
//! folder and the registration lines, and runs the project's whole suite.
//!
//! The renamed copy lives in `target/template-check/` and builds in the shared target
//! folder, so only the copy's own crate compiles; it needs the dependencies cargo has
//! already downloaded (`--offline`). It is made as cargo-generate makes it: without
//! what `ignore` in cargo-generate.toml names.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The placeholders the `.liquid` files use, as cargo-generate fills them for
/// `project_name`.
fn render(text: &str, project_name: &str) -> String {
    let crate_name = project_name.replace('-', "_");
    let title = project_name
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    text.replace("{{project-name | title_case}}", &title)
        .replace("{{project-name}}", project_name)
        .replace("{{crate_name}}", &crate_name)
}

fn liquid_files() -> Vec<PathBuf> {
    let config = std::fs::read_to_string(Path::new(ROOT).join("cargo-generate.toml")).unwrap();
    // cargo-generate puts each X.liquid over X first, then renders the files listed.
    let include = config
        .lines()
        .find_map(|line| line.strip_prefix("include = "))
        .expect("cargo-generate.toml lists the files it renders");
    let files: Vec<PathBuf> = include
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|name| Path::new(ROOT).join(format!("{}.liquid", name.trim().trim_matches('"'))))
        .collect();
    assert!(!files.is_empty(), "{files:?}");
    files
}

#[test]
fn the_liquid_files_render_the_files_beside_them() {
    for liquid in liquid_files() {
        let template = std::fs::read_to_string(&liquid).unwrap();
        let original = std::fs::read_to_string(liquid.with_extension("")).unwrap();
        assert_eq!(
            render(&template, env!("CARGO_PKG_NAME")),
            original,
            "{} has drifted from the file beside it",
            liquid.display()
        );
        let renamed = render(&template, "acme-notes");
        assert!(
            !renamed.contains("{{") && !renamed.contains("{%"),
            "{}",
            liquid.display()
        );
    }
}

/// The paths (from the root) cargo-generate leaves out of a new project.
fn ignored() -> Vec<String> {
    let config = std::fs::read_to_string(Path::new(ROOT).join("cargo-generate.toml")).unwrap();
    let line = config
        .lines()
        .find_map(|line| line.strip_prefix("ignore = "))
        .expect("cargo-generate.toml lists what it ignores");
    line.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|name| name.trim().trim_matches('"').to_string())
        .collect()
}

/// Copies the project's files (but for `.git` and what cargo-generate ignores) into
/// `to`, writing only what changed (so the copy's crate is not rebuilt from scratch
/// every run), and removes what the project does not have: a feature or migration an
/// earlier run generated must not linger.
fn copy_tree(from: &Path, to: &Path, ignored: &[String]) {
    for entry in std::fs::read_dir(to).into_iter().flatten().flatten() {
        let source = from.join(entry.file_name());
        let relative = source
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if source.exists() && !ignored.contains(&relative) {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let relative = entry.path();
        let relative = relative
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if relative == ".git" || ignored.contains(&relative) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, ignored);
        } else {
            let bytes = std::fs::read(entry.path()).unwrap();
            if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
                std::fs::write(&target, bytes).unwrap();
            }
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("target"))
}

fn cargo(project: &Path, args: &[&str]) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("GATEHOUSE_ARGON2_MEMORY_KIB", "512")
        .env("GATEHOUSE_ARGON2_ITERATIONS", "1")
        .output()
        .expect("cargo runs")
}

/// One renamed project at a time: both checks use the same copy.
static PROJECT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The project as `cargo generate --name acme-notes` makes it, in
/// `target/template-check/acme-notes`; `extra` lists files (relative path, text) to
/// write over it afterwards.
fn renamed_project(extra: &[(&str, String)]) -> PathBuf {
    let project = target_dir().join("template-check").join("acme-notes");
    std::fs::create_dir_all(&project).unwrap();
    let ignored = ignored();
    for development in [".gatehouse", "mail", "gatehouse.db"] {
        assert!(
            ignored.iter().any(|path| path == development),
            "cargo-generate.toml should leave out {development}"
        );
    }
    copy_tree(Path::new(ROOT), &project, &ignored);
    for liquid in liquid_files() {
        let relative = liquid.strip_prefix(ROOT).unwrap();
        let rendered = render(&std::fs::read_to_string(&liquid).unwrap(), "acme-notes");
        let target = project.join(relative.with_extension(""));
        if std::fs::read_to_string(&target).ok().as_deref() != Some(rendered.as_str()) {
            std::fs::write(&target, rendered).unwrap();
        }
        let _ = std::fs::remove_file(project.join(relative));
    }
    for (relative, text) in extra {
        let path = project.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap();
        }
    }
    project
}

/// The tests a `cargo test` output reports as passed, over every test target.
fn passed(output: &str) -> u64 {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_renamed_project_builds_and_its_settings_follow_its_name() {
    let _one_at_a_time = PROJECT.lock().unwrap_or_else(|p| p.into_inner());
    let project = renamed_project(&[]);
    let build = cargo(&project, &["build", "--offline", "--bins", "--tests"]);
    assert!(
        build.status.success(),
        "the renamed project does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let binary = target_dir()
        .join("debug")
        .join(format!("acme-notes{}", std::env::consts::EXE_SUFFIX));
    let help = Command::new(&binary).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("acme-notes"), "{help}");
    // The renamed app's own checks: Rocket.toml and the README against its defaults
    // (cookie names, issuer), the settings errors of its binary.
    let tests = cargo(
        &project,
        &["test", "--offline", "--test", "api", "config::"],
    );
    let output = String::from_utf8_lossy(&tests.stdout);
    assert!(
        tests.status.success() && output.contains("test result: ok"),
        "the renamed project's tests fail:\n{output}\n{}",
        String::from_utf8_lossy(&tests.stderr)
    );
}

/// A throwaway feature with one setting, as a cloner writes one: its folder, plus the
/// registration lines in `src/features/mod.rs` and `src/features/tests.rs`.
fn throwaway_feature(project: &Path) -> Vec<(&'static str, String)> {
    let registry = std::fs::read_to_string(project.join("src/features/mod.rs")).unwrap();
    let registry = registry
        .replace("pub mod notes;\n", "pub mod notes;\npub mod probe;\n")
        .replace(
            "        &notes::Notes,\n",
            "        &notes::Notes,\n        &probe::Probe,\n",
        );
    assert!(registry.contains("&probe::Probe"), "{registry}");
    let tests = std::fs::read_to_string(project.join("src/features/tests.rs")).unwrap();
    vec![
        ("src/features/mod.rs", registry),
        (
            "src/features/tests.rs",
            tests + "\n#[path = \"probe/tests.rs\"]\nmod probe;\n",
        ),
        ("src/features/probe/mod.rs", PROBE.to_string()),
        ("src/features/probe/tests.rs", PROBE_TESTS.to_string()),
        ("src/features/probe/settings.md", PROBE_SETTINGS.to_string()),
    ]
}

const PROBE: &str = r#"//! A throwaway feature of the template check: one setting, one route.

use crate::config::ConfigError;
use crate::feature::{Feature, Setup};
use rocket::fairing::AdHoc;
use serde::{Deserialize, Serialize};

pub struct Probe;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeSettings {
    pub greeting: String,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings { greeting: "hello".into() }
    }
}

#[rocket::get("/probe")]
fn greet(settings: &rocket::State<ProbeSettings>) -> String {
    settings.greeting.clone()
}

impl Feature for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn stage(&self, setup: &Setup<'_>) -> Result<AdHoc, ConfigError> {
        let settings: ProbeSettings = setup.section("probe")?;
        if settings.greeting.is_empty() {
            return Err(setup.invalid("probe", "greeting", "must not be empty"));
        }
        Ok(AdHoc::on_ignite("Probe", move |rocket| async move {
            rocket.manage(settings).mount("/", rocket::routes![greet])
        }))
    }

    fn default_settings(&self) -> serde_json::Value {
        serde_json::to_value(ProbeSettings::default()).unwrap()
    }
}
"#;

const PROBE_TESTS: &str = r#"//! The throwaway feature's setting, from its default and from the figment.

use crate::support::{spawn_app, spawn_app_with};

#[rocket::async_test]
async fn the_probe_greets_as_its_setting_says() {
    let app = spawn_app().await;
    let body = app.client.get("/probe").dispatch().await.into_string().await;
    assert_eq!(body.as_deref(), Some("hello"));
    let app = spawn_app_with(|f| f.merge(("probe.greeting", "hi"))).await;
    let body = app.client.get("/probe").dispatch().await.into_string().await;
    assert_eq!(body.as_deref(), Some("hi"));
}
"#;

const PROBE_SETTINGS: &str = "# Settings of `probe`\n\n| Setting | Default | Meaning |\n|---|---|---|\n| `greeting` | `\"hello\"` | what `/probe` answers; `GATEHOUSE_PROBE__GREETING` |\n";

/// The features `cargo xtask new-feature` writes into the generated project.
const GENERATED: &[(&str, &[&str])] = &[
    ("bookmarks", &["title:string", "url:url", "note:text?"]),
    (
        "widgets",
        &[
            "name:string",
            "description:text?",
            "price:int:0..1000000",
            "stock:int?",
            "active:bool",
            "homepage:url?",
            "contact:email?",
            "launch:datetime?",
        ],
    ),
];

/// The whole suite of a generated project, with a feature added by hand that has a
/// setting (nothing outside its folder and the registration lines needs an edit) and
/// two written by `cargo xtask new-feature`, whose own tests run too.
#[test]
#[ignore = "slow: builds and runs a generated project's whole suite; CI runs it"]
fn a_generated_project_with_a_new_feature_passes_all_its_tests() {
    let _one_at_a_time = PROJECT.lock().unwrap_or_else(|p| p.into_inner());
    let project = renamed_project(&[]);
    let project = renamed_project(&throwaway_feature(&project));
    // Two features from the generator, every field type among them, no hand edits.
    for (name, fields) in GENERATED {
        let _ = std::fs::remove_dir_all(project.join("src/features").join(name));
        let mut xtask = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        let generated = xtask
            .args(["xtask", "new-feature", name])
            .args(*fields)
            .current_dir(&project)
            // Not the shared folder: the copy's xtask binary would land where the
            // repository's own `cargo xtask` finds it.
            .env(
                "CARGO_TARGET_DIR",
                target_dir().join("template-check").join("xtask-target"),
            )
            .output()
            .expect("cargo runs");
        assert!(
            generated.status.success(),
            "cargo xtask new-feature {name} failed:\n{}\n{}",
            String::from_utf8_lossy(&generated.stdout),
            String::from_utf8_lossy(&generated.stderr)
        );
    }
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let tests = command
        .args(["test", "--offline"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("TEST_DATABASE_URL")
        .output()
        .expect("cargo runs");
    let output = String::from_utf8_lossy(&tests.stdout);
    let passed = passed(&output);
    assert!(
        tests.status.success() && passed > 0,
        "the generated project's tests fail:\n{output}\n{}",
        String::from_utf8_lossy(&tests.stderr)
    );
    let _ = std::fs::write(target_dir().join("template-check/last-run.txt"), &*output);
    let mut expected = vec![
        "the_probe_greets_as_its_setting_says ... ok",
        "bookmarks::the_bookmarks_page_lists_adds_and_deletes ... ok",
        "widgets::widgets_are_created_read_changed_listed_and_deleted ... ok",
    ];
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        // CI installs the browser: the generated project's browser tests run too.
        expected.push("people_use_the_pages_in_a_real_browser ... ok");
    }
    for test in expected {
        assert!(output.contains(test), "{test} did not pass:\n{output}");
    }
    eprintln!(
        "the generated project (acme-notes, with probe, bookmarks and widgets) passed {passed} tests"
    );
}
