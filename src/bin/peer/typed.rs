//! What a line typed at the terminal is: a paste of several lines comes
//! as the lines a pipe would have given, and a message the peer shows back
//! is told from a command. This module does no I/O.

use p2pchat::peer::Input;

/// A pasted text of several lines, which the editor takes in at once, as
/// the lines a pipe would have given one by one. Each has seen what the
/// paste had seen: one that lands after a new question (the first line
/// answered the menu, say) was not meant for it, and is not taken for it.
pub(crate) fn pasted_lines(input: Input) -> Vec<Input> {
    match input {
        Input::Typed { line: text, seen } if text.contains('\n') => text
            .split('\n')
            .map(|line| Input::Typed {
                line: line.trim_end_matches('\r').to_string(),
                seen,
            })
            .collect(),
        Input::Stale(text) if text.contains('\n') => text
            .split('\n')
            .map(|line| Input::Stale(line.trim_end_matches('\r').to_string()))
            .collect(),
        other => vec![other],
    }
}

/// Whether `line`, typed in a lobby, is a message the peer shows back: not
/// blank, not a command (`//` starts a message that begins with `/`), and
/// one line (a paste of several is left as the editor drew it).
pub(crate) fn is_message(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && (!line.starts_with('/') || line.starts_with("//")) && !line.contains('\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paste_of_several_lines_is_several_lines() {
        let line = |text: &str| Input::Typed {
            line: text.to_string(),
            seen: 3,
        };
        assert_eq!(pasted_lines(line("hi")), vec![line("hi")]);
        assert_eq!(
            pasted_lines(line("one\r\ntwo\n\nthree")),
            vec![line("one"), line("two"), line(""), line("three")]
        );
        assert_eq!(pasted_lines(Input::Eof), vec![Input::Eof]);
    }
}
