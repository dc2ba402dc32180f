//! Doing an action in the runtime and in the model side by side, and
//! checking that they agree.

use super::actions::{Action, Cut, Fault};
use super::calls::{
    expect_failure, expect_success, is_store_failure, stalls_owners, withdrawn, Before,
};
use super::spec::{increment, is_change, kept, Model, Phase, Request};
use super::{stats, COOKIE, KEYS, USERS};
use livesession::testing::Op as StoreOp;
use livesession::{RequestInfo, RequestSession, SessionError, SessionManager};
use serde_json::Value;
use std::time::Duration;

pub(crate) fn err<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what} failed: {e:?}")
}

pub(crate) fn expect_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: runtime has {got:?}, model has {want:?}"))
    }
}

/// Starts a request on `m` that sends `cookie` (the value of the session
/// cookie [`COOKIE`]), if any, for the path `/`.
pub fn start(m: &SessionManager, cookie: Option<&str>) -> RequestSession {
    let header = cookie.map(|v| format!("{COOKIE}={v}"));
    m.start(&RequestInfo {
        cookie_header: header.as_deref(),
        path: "/",
        ..Default::default()
    })
}

/// What the runtime answered to an action.
pub(crate) enum Outcome {
    Done,
    /// `get` or `remove`.
    Value(Option<Value>),
    /// `update`.
    Number(i64),
    /// `save`, and the session's id after it.
    Saved(Option<String>),
}

/// Does `action` in the runtime only.
pub(crate) async fn run(s: &RequestSession, action: &Action) -> Result<Outcome, SessionError> {
    Ok(match action {
        Action::Get(k) => Outcome::Value(s.get::<Value>(KEYS[*k]).await?),
        Action::Insert(k, v) => {
            s.insert(KEYS[*k], v.json()).await?;
            Outcome::Done
        }
        Action::Remove(k) => Outcome::Value(s.remove(KEYS[*k]).await?),
        Action::Update(k) => Outcome::Number(
            s.update(KEYS[*k], |n: Option<i64>| n.unwrap_or(0) + 1)
                .await?,
        ),
        Action::Clear => {
            s.clear().await?;
            Outcome::Done
        }
        Action::Regenerate(keep) => {
            let keys: Vec<&str> = KEYS.iter().copied().filter(|k| kept(*keep, k)).collect();
            s.regenerate(&keys).await?;
            Outcome::Done
        }
        Action::Destroy => {
            s.destroy().await?;
            Outcome::Done
        }
        Action::Touch => {
            s.touch().await?;
            Outcome::Done
        }
        Action::BindUser(u) => {
            s.bind_user(USERS[*u]).await?;
            Outcome::Done
        }
        Action::Reload => {
            s.reload().await?;
            Outcome::Done
        }
        Action::Save => {
            s.save().await?;
            Outcome::Saved(s.id().await?)
        }
    })
}

/// Runs `fut` until `cut`: its output, or `None` if it was dropped first.
pub(crate) async fn cut_off<T>(fut: impl std::future::Future<Output = T>, cut: Cut) -> Option<T> {
    match cut {
        Cut::Micros(us) => tokio::time::timeout(Duration::from_micros(us), fut)
            .await
            .ok(),
        Cut::Polls(polls) => {
            let mut fut = std::pin::pin!(fut);
            let mut left = polls;
            std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
                std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
                std::task::Poll::Pending if left == 0 => std::task::Poll::Ready(None),
                std::task::Poll::Pending => {
                    left -= 1;
                    cx.waker().wake_by_ref(); // yield, then poll again
                    std::task::Poll::Pending
                }
            })
            .await
        }
    }
}

/// What a request does after an action.
#[derive(Debug, PartialEq)]
pub(crate) enum Flow {
    Go,
    /// The action failed with a store error: the handler answers an error
    /// (the request is finished without further actions).
    Stop,
}

/// Does `action` in the runtime and in the model; checks what it returns,
/// then the whole session as the request now sees it.
pub(crate) async fn act(
    model: &mut Model,
    s: &RequestSession,
    r: &mut Request,
    action: &Action,
    fault: Option<&Fault>,
) -> Result<Flow, String> {
    let before = model.before(r, action, fault);
    let got = run(s, action).await;
    settle(model, s, r, action, fault, before, got).await
}

/// The model's side of an action the runtime did (answering `got`).
pub(crate) async fn settle(
    model: &mut Model,
    s: &RequestSession,
    r: &mut Request,
    action: &Action,
    fault: Option<&Fault>,
    before: Before,
    got: Result<Outcome, SessionError>,
) -> Result<Flow, String> {
    if let Err(e) = &got {
        if is_store_failure(e) {
            let op = if withdrawn(e) && is_change(action) && stalls_owners(fault) {
                // Queued behind a hung write: withdrawn, like a failed
                // write of the change.
                stats::add(&stats::FAILED);
                StoreOp::Save
            } else {
                expect_failure(fault, before.calls, &e.to_string())?
            };
            // A failed action applies nothing.
            model.sessions = before.sessions;
            *r = before.request;
            model.failed(r, action, op);
            return Ok(Flow::Stop);
        }
    }
    expect_success(fault, before.calls)?;
    model.load(r);
    match (action, got) {
        (Action::Get(k), got) => {
            let got = got.map_err(err("get"))?;
            let want = model.view(r).data.get(KEYS[*k]).cloned();
            expect_eq("get", got_value(got)?, want)?;
        }
        (Action::Insert(k, v), got) => {
            got.map_err(err("insert"))?;
            model.change(r, |view| Some(view.data.insert(KEYS[*k].into(), v.json())));
        }
        (Action::Remove(k), got) => {
            let got = got_value(got.map_err(err("remove"))?)?;
            let skip = model.known.stale_view_skips_remove_and_clear
                && !model.view(r).data.contains_key(KEYS[*k]);
            let want = if skip {
                None
            } else {
                model
                    .change(r, |view| Some(view.data.remove(KEYS[*k])))
                    .flatten()
            };
            expect_eq("removed value", got, want)?;
        }
        (Action::Update(k), got) => {
            let want = model.change(r, |view| increment(&mut view.data, KEYS[*k]));
            match (got, want) {
                (Ok(Outcome::Number(n)), Some(w)) if n == w => {}
                (Err(SessionError::Decode { .. }), None) => {}
                (got, want) => {
                    let got = got.map(|o| match o {
                        Outcome::Number(n) => n,
                        _ => i64::MIN,
                    });
                    return Err(format!(
                        "update: runtime gave {got:?}, model expects {}",
                        want.map_or("a decode error".into(), |w| format!("Ok({w})"))
                    ));
                }
            }
        }
        (Action::Clear, got) => {
            got.map_err(err("clear"))?;
            if !(model.known.stale_view_skips_remove_and_clear && model.view(r).data.is_empty()) {
                model.change(r, |view| {
                    view.data.clear();
                    Some(())
                });
            }
        }
        (Action::Regenerate(keep), got) => {
            got.map_err(err("regenerate"))?;
            model.regenerate(r, *keep);
        }
        (Action::Destroy, got) => {
            got.map_err(err("destroy"))?;
            model.destroy(r);
        }
        (Action::Touch, got) => {
            got.map_err(err("touch"))?;
            model.touch(r);
        }
        (Action::BindUser(u), got) => {
            got.map_err(err("bind_user"))?;
            model.follow(r);
            let before = model.view(r).user;
            model.change(r, |view| {
                view.user = Some(USERS[*u].to_string());
                Some(())
            });
            if matches!(r.phase, Phase::Fresh(_)) && before.as_deref() != Some(USERS[*u]) {
                // A new binding (binding the user it has keeps the binding,
                // revoked or not).
                r.binding_revoked = false;
            }
        }
        (Action::Reload, got) => {
            got.map_err(err("reload"))?;
            model.reload(r);
        }
        (Action::Save, got) => match got.map_err(err("save"))? {
            Outcome::Saved(id) => model.save(r, id)?,
            _ => unreachable!("save answers its id"),
        },
    }
    let want = model.view(r);
    expect_eq("data", s.data().await.map_err(err("data"))?, want.data)?;
    expect_eq("user", s.user().await.map_err(err("user"))?, want.user)?;
    Ok(Flow::Go)
}

pub(crate) fn got_value(got: Outcome) -> Result<Option<Value>, String> {
    match got {
        Outcome::Value(v) => Ok(v),
        _ => Err("not a value".into()),
    }
}
