//! Safe file names: what an offered name becomes before anything is saved
//! under it. The name is only ever a base name inside the download folder,
//! never a path, never a name Windows keeps for devices, and never one
//! that is taken: `report.pdf` becomes `report (1).pdf`. Plain functions,
//! no I/O: the caller says which names are taken.

/// Names Windows keeps for devices, whatever their case, with or without
/// an extension (`nul.txt`, `COM1.tar.gz` open the device too). Windows
/// counts the superscript digits ¹ ² ³ as digits here, and newer versions
/// keep `COM0` and `LPT0` as well.
const RESERVED: [&str; 32] = [
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    "COM0",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "COM\u{b9}",
    "COM\u{b2}",
    "COM\u{b3}",
    "LPT0",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "LPT\u{b9}",
    "LPT\u{b2}",
    "LPT\u{b3}",
];

/// The longest saved name, in bytes, with room for ` (999)` and `.part`.
const MAX_SAVED: usize = 200;

/// The name saved when nothing of the offered one is left.
const FALLBACK: &str = "file";

/// The offered name made safe: its last path component, every control
/// character and every character Windows forbids in a name replaced by
/// `_`, no trailing dots or spaces (Windows drops them), no leading dot
/// (no hidden file, no `..`), a reserved device name prefixed by `_`, at
/// most `MAX_SAVED` bytes.
pub fn safe_name(offered: &str) -> String {
    let base = offered.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_control() || crate::sanitize::is_unsafe(c) || "<>:\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    name = trim_ends(&name).to_string();
    if name.is_empty() {
        return FALLBACK.to_string();
    }
    if is_reserved(&name) {
        name.insert(0, '_');
    }
    // A saved file never looks like one of our `.part`s or their notes,
    // which the sweep of stale ones removes (`disk::sweep_parts`).
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".part") || lower.ends_with(".sum") {
        name.push('_');
    }
    if name.len() > MAX_SAVED {
        let mut end = MAX_SAVED;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        // A cut may end the name in a dot or a space again.
        name = trim_ends(&name).to_string();
    }
    name
}

/// The name without the dots and spaces Windows drops at its end, nor
/// the dots and spaces at its start (no hidden file, no `..`).
fn trim_ends(name: &str) -> &str {
    name.trim_end_matches(['.', ' '])
        .trim_start_matches(['.', ' '])
}

/// Whether Windows would open a device for `name`: its part before the
/// first dot, without trailing spaces, is a reserved name.
fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem))
}

/// `name` itself if it is free, else `stem (1).ext`, `stem (2).ext`, and so
/// on: the first that `taken` says is free. `None` after 999 tries.
pub fn unique_name(name: &str, taken: impl Fn(&str) -> bool) -> Option<String> {
    if !taken(name) {
        return Some(name.to_string());
    }
    // The extension is what follows the last dot, unless that dot starts
    // the name (there is none then).
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    (1..1000)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| !taken(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(offered: &str, expected: &str) {
        assert_eq!(safe_name(offered), expected, "offered {offered:?}");
    }

    #[test]
    fn names_lose_paths_controls_and_reserved_words() {
        check("report.pdf", "report.pdf");
        check("report (1).pdf", "report (1).pdf");
        check("../../x", "x");
        check("..\\..\\windows\\system.ini", "system.ini");
        check("/etc/passwd", "passwd");
        check("..", FALLBACK);
        check(".", FALLBACK);
        check("", FALLBACK);
        check("dir/", FALLBACK);
        check(".bashrc", "bashrc");
        check("a\u{1b}[2Jb\n.txt", "a_[2Jb_.txt");
        check("evil\u{202e}fdp.exe", "evil_fdp.exe");
        check("what?.txt", "what_.txt");
        check("a:b|c*d", "a_b_c_d");
        check("CON", "_CON");
        check("con.txt", "_con.txt");
        check("lpt9.tar.gz", "_lpt9.tar.gz");
        check("CONSOLE.txt", "CONSOLE.txt");
        check("notes. . ", "notes");
        check(&"é".repeat(150), &"é".repeat(100));
        // Never the name of a `.part` or its note, which a sweep removes.
        check(
            "notes.0123456789abcdef.part",
            "notes.0123456789abcdef.part_",
        );
        check("x.PART", "x.PART_");
        check("x.part.sum", "x.part.sum_");
        check("x.partial", "x.partial");
    }

    #[test]
    fn every_windows_device_name_is_prefixed_with_any_extension_or_case() {
        check("nul.txt", "_nul.txt");
        check("NUL", "_NUL");
        check("Aux.c", "_Aux.c");
        check("prn", "_prn");
        check("COM1.tar.gz", "_COM1.tar.gz");
        check("com0", "_com0");
        check("LPT0.log", "_LPT0.log");
        check("COM\u{b9}", "_COM\u{b9}");
        check("com\u{b2}.txt", "_com\u{b2}.txt");
        check("COM\u{b3}.a.b", "_COM\u{b3}.a.b");
        check("LPT\u{b9}", "_LPT\u{b9}");
        check("lpt\u{b2}.pdf", "_lpt\u{b2}.pdf");
        check("LPT\u{b3}", "_LPT\u{b3}");
        check("conin$", "_conin$");
        check("CONOUT$.txt", "_CONOUT$.txt");
        // Trailing dots and spaces go first, so they hide nothing.
        check("CON.", "_CON");
        check("nul ", "_nul");
        check("com1. . .", "_com1");
        check("nul .txt", "_nul .txt");
        check("aux..txt", "_aux..txt");
        // Near misses are names like any other.
        check("COM10", "COM10");
        check("COM\u{b9}0", "COM\u{b9}0");
        check("LPT\u{2074}", "LPT\u{2074}");
        check("COM", "COM");
        check("nuls.txt", "nuls.txt");
        check("my nul.txt", "my nul.txt");
        check("x.nul", "x.nul");
    }

    #[test]
    fn a_name_cut_to_length_ends_in_no_dot_or_space() {
        let long = format!("{}. x", "a".repeat(MAX_SAVED - 1));
        check(&long, &"a".repeat(MAX_SAVED - 1));
        let spaced = format!("{} {}", "b".repeat(MAX_SAVED - 1), "c".repeat(10));
        check(&spaced, &"b".repeat(MAX_SAVED - 1));
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let taken = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        assert_eq!(unique_name("a.pdf", taken(&[])).as_deref(), Some("a.pdf"));
        assert_eq!(
            unique_name("report.pdf", taken(&["report.pdf"])).as_deref(),
            Some("report (1).pdf")
        );
        assert_eq!(
            unique_name("report.pdf", taken(&["report.pdf", "report (1).pdf"])).as_deref(),
            Some("report (2).pdf")
        );
        assert_eq!(unique_name("x", taken(&["x"])).as_deref(), Some("x (1)"));
        assert_eq!(
            unique_name(".rc", taken(&[".rc"])).as_deref(),
            Some(".rc (1)")
        );
        assert_eq!(
            unique_name("a.tar.gz", taken(&["a.tar.gz"])).as_deref(),
            Some("a.tar (1).gz")
        );
        assert_eq!(unique_name("x", |_| true), None);
    }
}
