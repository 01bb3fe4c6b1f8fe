//! The project's own tasks, run as `cargo xtask <task>` (the alias is in
//! `.cargo/config.toml`). One task so far: `new-feature` writes a feature folder in
//! the shape of `src/features/notes/` and registers it.

mod render;
mod spec;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use spec::{Feature, USAGE};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("new-feature") => new_feature(&root(), &args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!(
            "There is no task {other:?}. The tasks: new-feature (cargo xtask help)."
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The project's root: the folder above xtask's own.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn new_feature(root: &Path, args: &[String]) -> Result<(), String> {
    let feature = Feature::parse(args, &spec::Known::read(root)?)?;
    let folder = root.join("src/features").join(&feature.name);
    if folder.exists() {
        return Err(format!(
            "src/features/{} exists already: choose another name, or delete the folder first.",
            feature.name
        ));
    }
    let files = render::files(&feature, &spec::migration_version(root));
    for (relative, text) in &files {
        let path = folder.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("Cannot create {}: {e}.", parent.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| format!("Cannot write {}: {e}.", path.display()))?;
    }
    println!(
        "Wrote src/features/{}/ ({} files).",
        feature.name,
        files.len()
    );
    let written: Vec<PathBuf> = files
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .map(|(path, _)| folder.join(path))
        .collect();
    format(&written);
    register(root, &feature)?;
    println!(
        "Next: `cargo test {name}` runs its tests; `cargo run` serves /{name} and /api/{name}; \
         the folder's settings.md lists its setting.",
        name = feature.name
    );
    Ok(())
}

/// Runs rustfmt over the Rust files written, so they read as the rest of the project
/// (and `cargo fmt --check` passes); without rustfmt they stay as written.
fn format(rust: &[PathBuf]) {
    let formatted = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(rust)
        .status();
    if !formatted.is_ok_and(|status| status.success()) {
        println!("rustfmt did not run: `cargo fmt` formats the new files.");
    }
}

/// One edit of a registration file: the line to add above a marker comment.
struct Registration {
    file: &'static str,
    marker: &'static str,
    line: String,
}

/// Adds the feature's lines above the marker comments of `src/features/mod.rs` and
/// `src/features/tests.rs`; where a marker is missing, prints the lines instead.
fn register(root: &Path, feature: &Feature) -> Result<(), String> {
    let registrations = [
        Registration {
            file: "src/features/mod.rs",
            marker: "// new-feature: modules",
            line: format!("pub mod {};", feature.name),
        },
        Registration {
            file: "src/features/mod.rs",
            marker: "// new-feature: list",
            line: format!("&{}::{},", feature.name, feature.feature_type),
        },
        Registration {
            file: "src/features/tests.rs",
            marker: "// new-feature: tests",
            line: format!(
                "#[path = \"{name}/tests.rs\"]\nmod {name};",
                name = feature.name
            ),
        },
    ];
    let mut by_hand = Vec::new();
    let mut edited_files: Vec<PathBuf> = Vec::new();
    for registration in registrations {
        let path = root.join(registration.file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("Cannot read {}: {e}.", registration.file))?;
        let Some(at) = text.find(registration.marker) else {
            by_hand.push(registration);
            continue;
        };
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let indent = &text[line_start..at];
        let added: String = registration
            .line
            .lines()
            .map(|line| format!("{indent}{line}\n"))
            .collect();
        let edited = format!("{}{added}{}", &text[..line_start], &text[line_start..]);
        std::fs::write(&path, edited)
            .map_err(|e| format!("Cannot write {}: {e}.", registration.file))?;
        if !edited_files.contains(&path) {
            println!("Registered it in {}.", registration.file);
            edited_files.push(path);
        }
    }
    // rustfmt keeps the modules in order (the markers stay where they are).
    format(&edited_files);
    if !by_hand.is_empty() {
        println!("Some marker comments are missing; add these lines by hand:");
        for registration in by_hand {
            println!(
                "  in {} (the marker `{}` is missing):\n    {}",
                registration.file,
                registration.marker,
                registration.line.replace('\n', "\n    ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project with the seam's reserved list and the registration files, with or
    /// without their marker comments.
    fn project(markers: bool) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("xtask-project-{}-{markers}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/features/notes")).unwrap();
        std::fs::create_dir_all(root.join("src/feature")).unwrap();
        std::fs::write(
            root.join("src/feature/mod.rs"),
            "const RESERVED_NAMES: &[&str] = &[\n    \"accounts\",\n];\n",
        )
        .unwrap();
        let (modules, list, tests) = if markers {
            (
                "// new-feature: modules\n",
                "        // new-feature: list\n",
                "// new-feature: tests\n",
            )
        } else {
            ("", "", "")
        };
        std::fs::write(
            root.join("src/features/mod.rs"),
            format!(
                "pub mod notes;\n{modules}\npub fn all() -> Vec<u8> {{\n    vec![\n{list}    ]\n}}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("src/features/tests.rs"),
            format!("#[path = \"notes/tests.rs\"]\nmod notes;\n{tests}"),
        )
        .unwrap();
        root
    }

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_feature_is_written_and_registered_at_the_markers() {
        let root = project(true);
        new_feature(&root, &args(&["bookmarks", "title:string", "url:url"])).unwrap();
        let registry = std::fs::read_to_string(root.join("src/features/mod.rs")).unwrap();
        assert!(registry.contains("pub mod bookmarks;"), "{registry}");
        assert!(registry.contains("&bookmarks::Bookmarks,"), "{registry}");
        let tests = std::fs::read_to_string(root.join("src/features/tests.rs")).unwrap();
        assert!(
            tests.contains("#[path = \"bookmarks/tests.rs\"]\nmod bookmarks;"),
            "{tests}"
        );
        for file in [
            "mod.rs", "model.rs", "flows.rs", "api.rs", "pages.rs", "tests.rs",
        ] {
            assert!(
                root.join("src/features/bookmarks").join(file).exists(),
                "{file}"
            );
        }
        // The folder exists now: a second run refuses and changes nothing.
        let error = new_feature(&root, &args(&["bookmarks", "title:string"])).unwrap_err();
        assert!(error.contains("exists already"), "{error}");
        let again = std::fs::read_to_string(root.join("src/features/mod.rs")).unwrap();
        assert_eq!(again, registry);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn without_markers_the_lines_are_printed_and_nothing_is_edited() {
        let root = project(false);
        let before = std::fs::read_to_string(root.join("src/features/mod.rs")).unwrap();
        new_feature(&root, &args(&["bookmarks", "title:string"])).unwrap();
        let after = std::fs::read_to_string(root.join("src/features/mod.rs")).unwrap();
        assert_eq!(before, after);
        assert!(root.join("src/features/bookmarks/mod.rs").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
