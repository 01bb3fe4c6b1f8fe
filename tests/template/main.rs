//! Renaming a clone with cargo-generate: the `.liquid` siblings render, for the
//! template's own name, exactly into the files beside them (so they cannot drift),
//! and, for another name, into a project that builds and passes its settings checks.
//!
//! The renamed copy lives in `target/template-check/` and builds in the shared target
//! folder, so only the copy's own crate compiles; it needs the dependencies cargo has
//! already downloaded (`--offline`).

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
    assert!(files.len() >= 3, "{files:?}");
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

/// Copies the project's files into `to`, writing only what changed (so the copy's
/// crate is not rebuilt from scratch every run).
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if [".git", "target"].contains(&name.as_ref())
            || name.ends_with(".db")
            || name.contains(".db-")
        {
            continue;
        }
        let target = to.join(&*name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
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

#[test]
fn a_renamed_project_builds_and_its_settings_follow_its_name() {
    let project = target_dir().join("template-check").join("acme-notes");
    std::fs::create_dir_all(&project).unwrap();
    copy_tree(Path::new(ROOT), &project);
    for liquid in liquid_files() {
        let relative = liquid.strip_prefix(ROOT).unwrap();
        let rendered = render(&std::fs::read_to_string(&liquid).unwrap(), "acme-notes");
        let target = project.join(relative.with_extension(""));
        if std::fs::read_to_string(&target).ok().as_deref() != Some(rendered.as_str()) {
            std::fs::write(&target, rendered).unwrap();
        }
        let _ = std::fs::remove_file(project.join(relative));
    }
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
    let rocket_toml = std::fs::read_to_string(project.join("Rocket.toml")).unwrap();
    assert!(rocket_toml.contains("acme_notes_access") && rocket_toml.contains("\"Acme Notes\""));
}
