//! The ABI layout may not change without a version bump.
//!
//! `endpoint-api/abi/v{MAJOR}.{MINOR}.layout` holds `abi::layout_fingerprint()` of each
//! released version, sealed with a checksum. The golden of the current version must match
//! the code; goldens are write-once (`BERTH_BLESS_ABI=1` only creates a missing one, never
//! rewrites one), and each minor must be an append-only extension of the previous one.
//! Fingerprints are of 64-bit targets.
#![cfg(target_pointer_width = "64")]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use endpoint_api::abi::{ABI_MAJOR, ABI_MINOR, AbiVersion, layout_fingerprint};

const BLESS: &str = "BERTH_BLESS_ABI";
const SEAL: &str = "# fnv1a64 ";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("abi")
}

fn golden_path(version: AbiVersion) -> PathBuf {
    golden_dir().join(format!("v{}.{}.layout", version.major, version.minor))
}

fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn seal(body: &str) -> String {
    format!("{body}{SEAL}{:016x}\n", fnv1a64(body))
}

/// The fingerprint inside a sealed golden, or why the seal is broken.
fn unseal(text: &str) -> Result<&str, String> {
    let at = text.rfind(SEAL).ok_or("no checksum line")?;
    let (body, seal_line) = text.split_at(at);
    let expected = format!("{SEAL}{:016x}\n", fnv1a64(body));
    if seal_line != expected {
        return Err("its checksum does not match its content: it was edited".into());
    }
    Ok(body)
}

/// Whether `new` only appends to `old`: every old struct keeps its fields (new fields only at
/// the end, and only in size-prefixed tables, whose first field is `size`), and every old
/// symbol, function type, status and code is unchanged.
fn append_only(old: &str, new: &str) -> Result<(), String> {
    let (old_structs, old_items) = parse(old);
    let (new_structs, new_items) = parse(new);
    for item in old_items.iter().filter(|item| !item.starts_with("# ")) {
        if !new_items.contains(item) {
            return Err(format!("`{item}` changed or disappeared"));
        }
    }
    for (name, (old_header, old_fields)) in &old_structs {
        let Some((new_header, new_fields)) = new_structs.get(name) else {
            return Err(format!("struct {name} disappeared"));
        };
        if !new_fields.starts_with(old_fields) {
            return Err(format!("struct {name}: existing fields changed"));
        }
        let grew = new_fields.len() > old_fields.len();
        let table = old_fields
            .first()
            .is_some_and(|f| f.starts_with("  size @0 "));
        if grew && !table {
            return Err(format!("struct {name} grew but is not size-prefixed"));
        }
        if !grew && old_header != new_header {
            return Err(format!(
                "struct {name}: `{old_header}` became `{new_header}`"
            ));
        }
    }
    Ok(())
}

type Structs = BTreeMap<String, (String, Vec<String>)>;

/// Splits a fingerprint into struct blocks (by name) and the other lines.
fn parse(text: &str) -> (Structs, Vec<String>) {
    let mut structs = Structs::new();
    let mut items = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("struct ") {
            let name = rest.split(' ').next().unwrap_or_default().to_owned();
            structs.insert(name.clone(), (line.to_owned(), Vec::new()));
            current = Some(name);
        } else if line.starts_with("  ") {
            let block = current.as_ref().and_then(|name| structs.get_mut(name));
            if let Some((_, fields)) = block {
                fields.push(line.to_owned());
            }
        } else {
            current = None;
            items.push(line.to_owned());
        }
    }
    (structs, items)
}

fn bump_advice(golden: &str, current: &str) -> String {
    let kind = match append_only(golden, current) {
        Ok(()) => "the change only appends, so bump ABI_MINOR".to_owned(),
        Err(why) => format!("the change is incompatible ({why}), so bump ABI_MAJOR"),
    };
    format!(
        "the ABI layout changed without a version bump: {kind} in \
         endpoint-api/src/abi/version.rs (ABI_MINOR for append-only changes, ABI_MAJOR for \
         anything else), then create the new golden with `{BLESS}=1 cargo test -p endpoint-api \
         --test abi_layout`. Existing goldens are never rewritten."
    )
}

#[test]
fn layout_matches_the_golden_of_the_current_version() {
    let current = layout_fingerprint();
    let path = golden_path(AbiVersion::CURRENT);
    let Ok(text) = fs::read_to_string(&path) else {
        if std::env::var_os(BLESS).is_some() {
            fs::write(&path, seal(&current)).expect("write the golden");
            return;
        }
        panic!(
            "no golden for ABI {} at {}: create it with `{BLESS}=1 cargo test -p endpoint-api \
             --test abi_layout` and commit it",
            AbiVersion::CURRENT,
            path.display()
        );
    };
    let golden = unseal(&text).unwrap_or_else(|why| panic!("{}: {why}", path.display()));
    if golden != current {
        panic!(
            "{}\n{} vs the code:\n{}",
            bump_advice(golden, &current),
            path.display(),
            line_diff(golden, &current)
        );
    }
}

/// The lines only in `old` (`-`) and only in `new` (`+`).
fn line_diff(old: &str, new: &str) -> String {
    let removed = old.lines().filter(|line| !new.lines().any(|l| l == *line));
    let added = new.lines().filter(|line| !old.lines().any(|l| l == *line));
    let removed = removed.map(|line| format!("- {line}\n"));
    removed
        .chain(added.map(|line| format!("+ {line}\n")))
        .collect()
}

#[test]
fn goldens_are_sealed_named_by_version_and_not_from_the_future() {
    for entry in fs::read_dir(golden_dir()).expect("endpoint-api/abi exists") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let version = name
            .strip_prefix('v')
            .and_then(|rest| rest.strip_suffix(".layout"))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
            .map(|(major, minor)| AbiVersion { major, minor })
            .unwrap_or_else(|| panic!("{name}: not a v{{MAJOR}}.{{MINOR}}.layout golden"));
        assert!(
            version <= AbiVersion::CURRENT,
            "{name} is newer than the code's ABI"
        );
        let text = fs::read_to_string(&path).expect("read a golden");
        let body = unseal(&text).unwrap_or_else(|why| {
            panic!("{name}: {why}; goldens are write-once, restore it from version control")
        });
        let header = format!("# Berth plugin ABI {version}\n");
        assert!(
            body.starts_with(&header),
            "{name} does not describe ABI {version}"
        );
    }
}

#[test]
fn each_minor_extends_the_previous_one() {
    let read = |minor| {
        let path = golden_path(AbiVersion {
            major: ABI_MAJOR,
            minor,
        });
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing: goldens are never removed", path.display()));
        unseal(&text).map(str::to_owned).unwrap_or_default()
    };
    let goldens: Vec<String> = (0..=ABI_MINOR).map(read).collect();
    for (minor, pair) in (1..).zip(goldens.windows(2)) {
        if let Err(why) = append_only(&pair[0], &pair[1]) {
            panic!(
                "ABI {ABI_MAJOR}.{minor} is not an append-only extension of the previous minor \
                 ({why}): that needs ABI_MAJOR"
            );
        }
    }
}

#[test]
fn append_only_classification() {
    let base = "# Berth plugin ABI 1.0\nstruct T size=16 align=8\n  size @0 size=8: usize\n  a @8 size=8: u64\nstruct B size=8 align=8\n  x @0 size=8: u64\ncode g::A = 1\n";
    let appended = base
        .replace(
            "  a @8 size=8: u64\n",
            "  a @8 size=8: u64\n  b @16 size=8: u64\n",
        )
        .replace("struct T size=16", "struct T size=24")
        .replace("code g::A = 1\n", "code g::A = 1\ncode g::B = 2\n");
    assert_eq!(append_only(base, &appended), Ok(()));
    let moved = base.replace("  a @8", "  a @12");
    assert!(append_only(base, &moved).is_err());
    let renumbered = base.replace("g::A = 1", "g::A = 3");
    assert!(append_only(base, &renumbered).is_err());
    let grown_plain = base.replace(
        "  x @0 size=8: u64\n",
        "  x @0 size=8: u64\n  y @8 size=8: u64\n",
    );
    assert!(append_only(base, &grown_plain).is_err());
    assert!(bump_advice(base, &moved).contains("ABI_MAJOR"));
    assert!(bump_advice(base, &appended).contains("ABI_MINOR"));
}

#[test]
fn seals_detect_edits() {
    let sealed = seal("# Berth plugin ABI 1.0\nx\n");
    assert_eq!(unseal(&sealed), Ok("# Berth plugin ABI 1.0\nx\n"));
    assert!(unseal(&sealed.replace('x', "y")).is_err());
    assert!(unseal("no seal").is_err());
    assert_eq!(ABI_MINOR, AbiVersion::CURRENT.minor);
}
