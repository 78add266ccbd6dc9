//! Registering and joining: the first menu, the registry's refusals, a
//! name checked before its password, and lines typed meanwhile.

use super::*;

#[test]
fn the_first_menu_registers_and_joins_through_the_registry() {
    let mut app = app();
    check(
        &mut app,
        vec![line("x"), line("1"), line("bob"), line("secret-pw")],
        &[
            "Please type 1 to register or 2 to join.",
            WELCOME_PROMPT,
            "Please enter your user name and password to register.",
            "User name:",
            "registry: NameFree(bob)",
        ],
    );
    // The password typed while the name was checked waits for the answer.
    check(
        &mut app,
        vec![reply(RegistryReply::NameFree {
            name: "bob".into(),
            result: Ok(()),
        })],
        &["Password:", "registry: Register(bob, <password>)"],
    );
    check(
        &mut app,
        vec![reply(RegistryReply::Registered(Ok("bob".into())))],
        &[
            "The registration process is successful. You can 'join'",
            WELCOME_PROMPT,
        ],
    );
    check(
        &mut app,
        vec![
            line("2"),
            line("b!b"),
            line(""),
            line("2"),
            line("bob"),
            line("a b"),
        ],
        &[
            "Please enter your user name and password to join.",
            "User name:",
            "That name will not do: a name is 1 to 32 characters of A-Z a-z 0-9 _ . -.",
            "User name:",
            WELCOME_PROMPT,
            "Please enter your user name and password to join.",
            "User name:",
            "Password:",
            "That password will not do: a password is 4 to 128 printable characters without spaces.",
            "Password:",
        ],
    );
    check(
        &mut app,
        vec![line("secret-pw")],
        &["registry: Join(bob, <password>, 7000)"],
    );
    check(
        &mut app,
        vec![reply(RegistryReply::Joined(Ok(contact("bob", 2))))],
        &[
            "The 'join' process is successful. You can 'search'",
            "Joined as bob; others reach you at 10.0.0.2 port 7002. Type /quit at any time to leave.",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn registry_refusals_go_back_to_the_first_menu() {
    let mut app = app();
    let join = || vec![line("2"), line("bob"), line("secret-pw")];
    let _ = app.handle(line("2"), now());
    let refused = Refused::TooManyAttempts {
        wait: Some(30),
        limit: Some(AttemptLimit::Name),
    };
    check(
        &mut app,
        vec![line("bob"), line("secret-pw")],
        &["Password:", "registry: Join(bob, <password>, 7000)"],
    );
    check(
        &mut app,
        vec![reply(RegistryReply::Joined(Err(refused)))],
        &[
            "Too many failed attempts for bob; try again in 30 seconds.",
            WELCOME_PROMPT,
        ],
    );
    let _ = app.handle(line("2"), now());
    let wrong = Refused::Err(ErrorCode::BadPassword, "wrong password".into());
    let mut inputs = join();
    inputs.remove(0);
    inputs.push(reply(RegistryReply::Joined(Err(wrong))));
    check(
        &mut app,
        inputs,
        &[
            "Password:",
            "registry: Join(bob, <password>, 7000)",
            "Could not join bob: wrong password.",
            WELCOME_PROMPT,
        ],
    );
    let lost = Refused::Link(crate::client::ClientError::Offline);
    let mut inputs = join();
    inputs.push(reply(RegistryReply::Joined(Err(lost))));
    check(
        &mut app,
        inputs,
        &[
            "Please enter your user name and password to join.",
            "User name:",
            "Password:",
            "registry: Join(bob, <password>, 7000)",
            "Could not join bob: the registry is unreachable; reconnecting in the background.",
            WELCOME_PROMPT,
        ],
    );
    let bad = Refused::Err(
        ErrorCode::BadCredentials,
        "wrong user name or password".into(),
    );
    let mut inputs = join();
    inputs.push(reply(RegistryReply::Joined(Err(bad))));
    check(
        &mut app,
        inputs,
        &[
            "Please enter your user name and password to join.",
            "User name:",
            "Password:",
            "registry: Join(bob, <password>, 7000)",
            "Could not join bob: wrong user name or password. Five failed joins within a minute \
             lock this name, and this address, for a minute.",
            WELCOME_PROMPT,
        ],
    );
}

/// A core at the terminal's registration, where a new password is asked
/// twice, that typed `name` as the name to register.
fn registering(name: &str) -> App {
    let server: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    let mut app = App::new(PeerConfig::new(server), 7000, true, now());
    check(
        &mut app,
        vec![line("1"), line(name)],
        &[
            "Please enter your user name and password to register.",
            "User name:",
            &format!("registry: NameFree({name})"),
        ],
    );
    app
}

fn name_checked(name: &str, result: Result<(), Refused>) -> Incoming {
    reply(RegistryReply::NameFree {
        name: name.into(),
        result,
    })
}

/// `1⏎victim⏎pw⏎` typed before the first question was drawn: a line not
/// used before logging in may be followed by a password typed ahead, so
/// the next line is read afresh, and what was typed ahead is dropped
/// unread rather than shown back or taken for a name.
#[test]
fn a_line_not_used_before_logging_in_has_what_followed_it_dropped() {
    let server: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    let mut app = App::new(PeerConfig::new(server), 7000, true, now());
    assert_eq!(app.want(), Some(Want::Line));
    let _ = app.handle(Incoming::Stale("1".into()), now());
    assert_eq!(app.want(), Some(Want::Afresh));
    check(
        &mut app,
        vec![line("1")],
        &[
            "Please enter your user name and password to register.",
            "User name:",
        ],
    );
    assert_eq!(app.want(), Some(Want::Line));
    let _ = app.handle(Incoming::Stale("victim".into()), now());
    assert_eq!(app.want(), Some(Want::Afresh));
}

#[test]
fn a_taken_name_is_told_before_a_password_is_asked() {
    let mut app = registering("alice");
    // Nothing is read from the keyboard while the name is checked: the
    // next line is a password or a name, as the answer says.
    assert_eq!(app.want(), None);
    let taken = Refused::Err(ErrorCode::NameTaken, "the name Alice is taken".into());
    check(
        &mut app,
        vec![name_checked("alice", Err(taken))],
        &[
            "The name alice is taken; please pick another.",
            "User name:",
        ],
    );
    // Afresh: a password typed ahead is dropped, not taken as the name.
    assert_eq!(app.want(), Some(Want::Afresh));
    // An answer about another name is not this one's.
    check(&mut app, vec![line("bob")], &["registry: NameFree(bob)"]);
    check(&mut app, vec![name_checked("alice", Ok(()))], &[]);
    check(&mut app, vec![name_checked("bob", Ok(()))], &["Password:"]);
    assert_eq!(app.want(), Some(Want::Secret));
    check(
        &mut app,
        vec![line("secret-pw"), line("secret-pw")],
        &["Password again:", "registry: Register(bob, <password>)"],
    );
}

#[test]
fn a_script_told_its_name_is_taken_goes_back_to_the_first_menu() {
    let mut app = app();
    check(
        &mut app,
        vec![line("1"), line("alice"), line("secret-pw")],
        &[
            "Please enter your user name and password to register.",
            "User name:",
            "registry: NameFree(alice)",
        ],
    );
    let taken = Refused::Err(ErrorCode::NameTaken, "the name Alice is taken".into());
    // The password written after the name is no name: the first menu
    // answers it without showing it.
    check(
        &mut app,
        vec![name_checked("alice", Err(taken))],
        &[
            "The name alice is taken; please pick another.",
            WELCOME_PROMPT,
            "Please type 1 to register or 2 to join.",
            WELCOME_PROMPT,
        ],
    );
}

#[test]
fn a_name_check_that_cannot_be_answered_goes_on_to_the_password() {
    for refused in [
        Refused::Err(ErrorCode::UnknownCommand, "unknown command NAME".into()),
        Refused::TooManyAttempts {
            wait: Some(5),
            limit: Some(AttemptLimit::Address),
        },
        Refused::Link(ClientError::Closed(None)),
    ] {
        let mut app = registering("bob");
        check(
            &mut app,
            vec![name_checked("bob", Err(refused))],
            &["Password:"],
        );
    }
}
