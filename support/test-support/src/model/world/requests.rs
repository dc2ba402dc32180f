//! Finishing, holding, cancelling and racing requests.

use super::{Held, World};
use crate::model::actions::{Action, Cut, Who};
use crate::model::calls::{
    expect_failure, expect_success, is_store_failure, stalls_owners, withdrawn, Calls,
};
use crate::model::cookies::JarEffect;
use crate::model::drive::{act, cut_off, err, expect_eq, run, settle, start, Flow};
use crate::model::host::Host;
use crate::model::spec::{apply_change, ends, increment, Phase, Request, View};
use crate::model::{stats, PROBE_KEY};
use livesession::testing::Op as StoreOp;
use livesession::{RequestSession, SessionError};
use serde_json::Value;

impl<H: Host> World<H> {
    /// Finishes a request and checks its `Set-Cookie`. A `finish` that
    /// fails (the creation of its new session or the load of its
    /// passivated one failed) answers no cookie and creates nothing.
    pub(crate) async fn finish(
        &mut self,
        who: Who,
        s: &RequestSession,
        r: Request,
    ) -> Result<(), String> {
        let fault = self.fault;
        let calls = fault.map_or(Calls::Never, |f| self.model.finish_calls(&r, f.op));
        match s.finish().await {
            Ok(set) => {
                expect_success(fault.as_ref(), calls).map_err(|e| format!("finish: {e}"))?;
                let effect = self.model.finish(r, &set)?;
                self.apply_effect(who, effect);
                Ok(())
            }
            Err(e) if is_store_failure(&e) => expect_failure(fault.as_ref(), calls, &e.to_string())
                .map(|_| ())
                .map_err(|e| format!("finish: {e}")),
            Err(e) => Err(format!("finish failed: {e:?}")),
        }
    }

    /// Starts a request from `who`, loads its session and keeps it open
    /// (finished at once if the load fails).
    pub(crate) async fn open(&mut self, slot: usize, who: Who) -> Result<(), String> {
        self.close(slot).await?;
        let cookie = self.cookie(who);
        let s = start(self.manager(), cookie.as_deref());
        let mut r = self.model.request(cookie.as_deref());
        let load = Action::Get(0);
        if act(&mut self.model, &s, &mut r, &load, self.fault.as_ref()).await? == Flow::Stop {
            return self.finish(who, &s, r).await;
        }
        self.held[slot] = Some(Held {
            session: s,
            who,
            request: r,
        });
        Ok(())
    }

    /// Runs `action` in `held` and drops the request (never finished) if
    /// the action has not returned at `cut`; a request that was open in
    /// `slot` stays open if it has.
    pub(crate) async fn cancel(
        &mut self,
        held: Held,
        slot: Option<usize>,
        action: &Action,
        cut: Cut,
    ) -> Result<(), String> {
        let Held {
            session: s,
            who,
            request: mut r,
        } = held;
        let fault = self.fault;
        let before = self.model.before(&r, action, fault.as_ref());
        match cut_off(run(&s, action), cut).await {
            Some(got) => {
                let flow = settle(
                    &mut self.model,
                    &s,
                    &mut r,
                    action,
                    fault.as_ref(),
                    before,
                    got,
                )
                .await?;
                match (flow, slot) {
                    (Flow::Go, Some(slot)) => {
                        self.held[slot] = Some(Held {
                            session: s,
                            who,
                            request: r,
                        });
                        Ok(())
                    }
                    _ => self.finish(who, &s, r).await,
                }
            }
            None => {
                drop(s);
                stats::add(&stats::CANCELLED);
                self.cancelled(before.request, action)
                    .await
                    .map_err(|e| format!("cancelled {action:?}: {e}"))
            }
        }
    }

    /// A request was dropped in the middle of `action` (`r` is the request
    /// as it was before): the action's one change may or may not have been
    /// applied, never half; nothing else changed. A probe reads the
    /// session back once to learn which.
    pub(crate) async fn cancelled(&mut self, r: Request, action: &Action) -> Result<(), String> {
        let id = match &r.phase {
            Phase::Unloaded => self.model.live_id(r.cookie.as_deref()),
            Phase::Live { id, .. } if self.model.alive(id) => Some(id.clone()),
            // A session of its own, never created: nothing happened.
            _ => None,
        };
        let Some(id) = id else { return Ok(()) };
        // What the dropped request started goes on without it: let its
        // faulted store calls end.
        self.heal().await;
        let probe = start(self.manager(), Some(&self.model.cookie_for(&id)));
        // A change that changes nothing, applied after every change the
        // dropped request queued.
        probe.remove(PROBE_KEY).await.map_err(err("probe"))?;
        let probed = probe.id().await.map_err(err("probe id"))?;
        let view = View {
            data: probe.data().await.map_err(err("probe data"))?,
            user: probe.user().await.map_err(err("probe user"))?,
        };
        drop(probe); // never finished: it answers nothing
        let now = self.model.now;
        let s = self.model.session(&id);
        match probed {
            Some(got) if got == id => {
                s.last_load = now; // the probe loaded it
                if view == s.view {
                    return Ok(()); // not applied
                }
                match apply_change(action, &s.view) {
                    Some(applied) if applied == view => {
                        stats::add(&stats::CANCELLED_APPLIED);
                        s.view = applied;
                        Ok(())
                    }
                    _ => Err(format!(
                        "session {id} holds {view:?}; the model has {:?}, or that with the change",
                        s.view
                    )),
                }
            }
            None if ends(action) => {
                stats::add(&stats::CANCELLED_APPLIED);
                s.ended = true;
                s.ended_by_request_at = Some(now);
                Ok(())
            }
            other => Err(format!("session {id} came back as {other:?}")),
        }
    }

    pub(crate) async fn close(&mut self, slot: usize) -> Result<(), String> {
        match self.held[slot].take() {
            Some(h) => self.finish(h.who, &h.session, h.request).await,
            None => Ok(()),
        }
    }

    /// `k` concurrent requests on one cookie, each incrementing `key`.
    /// Under a store fault some may fail: a request whose load failed has
    /// no session (and answers no cookie), a failed write fails its whole
    /// batch, a failed creation answers no cookie. The increments that
    /// succeed are consecutive.
    pub(crate) async fn concurrent(
        &mut self,
        who: Who,
        key: &'static str,
        k: usize,
    ) -> Result<(), String> {
        let fault = self.fault;
        let cookie = self.cookie(who);
        let tasks: Vec<_> = (0..k)
            .map(|_| {
                let (m, cookie) = (self.manager().clone(), cookie.clone());
                tokio::spawn(async move {
                    let s = start(&m, cookie.as_deref());
                    let n = s.update(key, |n: Option<i64>| n.unwrap_or(0) + 1).await;
                    (n, s.finish().await)
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.map_err(err("a concurrent request"))?);
        }
        let op = fault.map(|f| f.op);
        let live = self.model.live_id(cookie.as_deref());
        // Whether the faulted operation is called by the updates.
        let update_calls = match (op, &live) {
            (Some(StoreOp::Load), _) if cookie.is_some() => Calls::Maybe,
            (Some(op @ (StoreOp::Save | StoreOp::Flush)), Some(id)) => {
                let current = self.model.sessions[id].view.data.get(key);
                let changes = current.is_none_or(|v| v.as_i64().is_some());
                match op {
                    // No barrier after a save the store made durable.
                    StoreOp::Flush if changes && !self.model.flushes_after_save => Calls::Maybe,
                    _ => Calls::when(changes),
                }
            }
            _ => Calls::Never,
        };
        // Each request, and whether its load failed (its model request
        // then stays unloaded).
        let mut requests = Vec::new();
        for (n, set) in results {
            let unloaded = match &n {
                // Queued behind a hung write: withdrawn (its load happened).
                Err(e) if withdrawn(e) && stalls_owners(fault.as_ref()) => false,
                Err(e) if is_store_failure(e) => {
                    let op = expect_failure(fault.as_ref(), update_calls, &e.to_string())
                        .map_err(|e| format!("concurrent update: {e}"))?;
                    op == StoreOp::Load
                }
                _ => {
                    expect_success(fault.as_ref(), update_calls)
                        .map_err(|e| format!("concurrent update: {e}"))?;
                    false
                }
            };
            requests.push((n, set, unloaded));
        }
        let Some(id) = live else {
            // No live session: each request starts its own.
            let mut last = JarEffect::None;
            for (n, set, unloaded) in requests {
                let mut r = self.model.request(cookie.as_deref());
                if !unloaded {
                    expect_eq("update of a new session", n.as_ref().ok(), Some(&1))?;
                    self.model
                        .change(&mut r, |view| increment(&mut view.data, key));
                }
                match self.finish_concurrent(r, set)? {
                    JarEffect::None => {}
                    effect => last = effect,
                }
            }
            self.apply_effect(who, last);
            return Ok(());
        };
        // One live session: every request that loads it touches it; every
        // increment that succeeds lands (on a string, every update fails
        // and changes nothing).
        let before = self.model.sessions[&id].view.data.get(key).cloned();
        let mut values = Vec::new();
        for (n, set, unloaded) in requests {
            let r = if unloaded {
                self.model.request(cookie.as_deref())
            } else {
                self.model.begin(cookie.as_deref())
            };
            self.finish_concurrent(r, set)?;
            match (&n, before.as_ref().map(Value::as_i64)) {
                (Err(e), _) if is_store_failure(e) => {}
                (Err(SessionError::Decode { .. }), Some(None)) => {}
                (Ok(n), Some(Some(_)) | None) => values.push(*n),
                (n, _) => return Err(format!("concurrent update: unexpected {n:?}")),
            }
        }
        if let Some(start) = before.map_or(Some(0), |v| v.as_i64()) {
            values.sort_unstable();
            let done = values.len() as i64;
            let want: Vec<i64> = (1..=done).map(|i| start + i).collect();
            expect_eq("concurrent update results", values, want)?;
            if done > 0 {
                let mut r = self.model.begin(cookie.as_deref());
                self.model.change(&mut r, |view| {
                    Some(view.data.insert(key.into(), Value::from(start + done)))
                });
            }
        }
        Ok(())
    }

    /// Checks the `finish` of one concurrent request.
    pub(crate) fn finish_concurrent(
        &mut self,
        r: Request,
        set: Result<Vec<String>, SessionError>,
    ) -> Result<JarEffect, String> {
        let fault = self.fault;
        let calls = fault.map_or(Calls::Never, |f| self.model.finish_calls(&r, f.op));
        match set {
            Ok(set) => {
                expect_success(fault.as_ref(), calls)
                    .map_err(|e| format!("concurrent finish: {e}"))?;
                self.model.finish(r, &set)
            }
            Err(e) if is_store_failure(&e) => {
                expect_failure(fault.as_ref(), calls, &e.to_string())
                    .map_err(|e| format!("concurrent finish: {e}"))?;
                Ok(JarEffect::None)
            }
            Err(e) => Err(format!("concurrent finish failed: {e:?}")),
        }
    }
}
