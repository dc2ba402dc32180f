//! What a response does with the session cookie: send it, clear it, or
//! leave it alone. One pure function over what the request did, so every
//! rule is in one place and tested by a table.

/// What became of the request's session, as the response sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handler never touched the session, or the request is outside the
    /// cookie path.
    Untouched,
    /// No session: the cookie named none, or the new session was not
    /// created (unmodified, or its user was revoked while it was built).
    NoSession,
    /// This request destroyed the session its cookie named (logout).
    DestroyedHere,
    /// A live session.
    Live(Live),
}

/// A live session's part in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Live {
    /// Another request destroyed it (or it expired, or was revoked) while
    /// this one ran.
    pub ended_elsewhere: bool,
    /// Its id was issued in this request (a new session, a regenerate).
    pub id_issued_here: bool,
    /// The incoming cookie was signed by an older secret.
    pub resign: bool,
    /// This request changed its data.
    pub modified: bool,
    /// `save()` was called.
    pub saved: bool,
}

/// What the response does with the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No `Set-Cookie`.
    Nothing,
    /// The session's cookie, with a fresh `Expires`.
    Send,
    /// A clearing cookie.
    Clear,
}

/// The inputs of [`decide`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs {
    pub outcome: Outcome,
    /// The request carried a session cookie (valid or not).
    pub had_cookie: bool,
    /// The cookie names an id that was logged out or regenerated away a
    /// moment ago (only consulted where it matters).
    pub cookie_ended_recently: bool,
    /// The `rolling` option.
    pub rolling: bool,
}

impl Inputs {
    /// Whether [`decide`] needs `cookie_ended_recently` (it costs a
    /// signature check, so it is computed only then).
    pub fn needs_ended_recently(outcome: Outcome, had_cookie: bool) -> bool {
        had_cookie
            && match outcome {
                Outcome::NoSession => true,
                Outcome::Live(live) => live.ended_elsewhere && !live.id_issued_here,
                Outcome::Untouched | Outcome::DestroyedHere => false,
            }
    }
}

/// The cookie rule of @fastify/session, made safe:
/// - a live session's cookie is sent when its id is new, it must be
///   re-signed, it was modified or saved, or `rolling` is on;
/// - a cookie is cleared when this request destroyed its session, or when
///   it names no session, except for an id logged out or regenerated away a
///   moment ago (the browser holds a newer cookie, which a clear deletes);
/// - an id that ended in another request is never sent again.
pub(crate) fn decide(i: Inputs) -> Decision {
    let clear_unless_recent = if i.had_cookie && !i.cookie_ended_recently {
        Decision::Clear
    } else {
        Decision::Nothing
    };
    match i.outcome {
        Outcome::Untouched => Decision::Nothing,
        Outcome::DestroyedHere if i.had_cookie => Decision::Clear,
        Outcome::DestroyedHere => Decision::Nothing,
        Outcome::NoSession => clear_unless_recent,
        Outcome::Live(live) if live.ended_elsewhere => {
            if live.id_issued_here {
                Decision::Nothing
            } else {
                clear_unless_recent
            }
        }
        Outcome::Live(live) => {
            if live.id_issued_here || live.resign || live.modified || live.saved || i.rolling {
                Decision::Send
            } else {
                Decision::Nothing
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Clear, Nothing, Send};

    fn live() -> Live {
        Live::default()
    }

    #[test]
    fn the_cookie_rule_as_a_table() {
        let ended = Live {
            ended_elsewhere: true,
            ..live()
        };
        #[rustfmt::skip]
        let table: &[(&str, Outcome, bool, bool, bool, Decision)] = &[
            // case                                  outcome                       cookie recent  rolling  decision
            ("out of scope / untouched",             Outcome::Untouched,            true,  false, true,  Nothing),
            ("new session, not created",             Outcome::NoSession,            false, false, true,  Nothing),
            ("new session created",                  Outcome::Live(Live { id_issued_here: true, ..live() }), false, false, false, Send),
            ("saved, rolling off",                   Outcome::Live(Live { saved: true, ..live() }),          true,  false, false, Send),
            ("modified, rolling off",                Outcome::Live(Live { modified: true, ..live() }),       true,  false, false, Send),
            ("read only, rolling on",                Outcome::Live(live()),         true,  false, true,  Send),
            ("read only, rolling off",               Outcome::Live(live()),         true,  false, false, Nothing),
            ("old secret: re-sign, rolling off",     Outcome::Live(Live { resign: true, ..live() }),         true,  false, false, Send),
            ("regenerated here",                     Outcome::Live(Live { id_issued_here: true, ..live() }), true,  false, false, Send),
            ("logout here",                          Outcome::DestroyedHere,        true,  true,  true,  Clear),
            ("destroyed here, no cookie came",       Outcome::DestroyedHere,        false, false, true,  Nothing),
            ("unknown or forged id",                 Outcome::NoSession,            true,  false, true,  Clear),
            ("stale id of a login a moment ago",     Outcome::NoSession,            true,  true,  true,  Nothing),
            ("ended elsewhere (expired, revoked)",   Outcome::Live(ended),          true,  false, true,  Clear),
            ("ended elsewhere by a logout just now", Outcome::Live(ended),          true,  true,  true,  Nothing),
            ("ended elsewhere after a new id here",  Outcome::Live(Live { id_issued_here: true, ..ended }), true, false, true, Nothing),
        ];
        for &(case, outcome, had_cookie, cookie_ended_recently, rolling, want) in table {
            let got = decide(Inputs {
                outcome,
                had_cookie,
                cookie_ended_recently,
                rolling,
            });
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn the_recent_end_check_runs_only_where_it_matters() {
        let ended = Outcome::Live(Live {
            ended_elsewhere: true,
            ..live()
        });
        assert!(Inputs::needs_ended_recently(Outcome::NoSession, true));
        assert!(Inputs::needs_ended_recently(ended, true));
        assert!(!Inputs::needs_ended_recently(ended, false));
        assert!(!Inputs::needs_ended_recently(Outcome::Live(live()), true));
        assert!(!Inputs::needs_ended_recently(Outcome::DestroyedHere, true));
    }
}
