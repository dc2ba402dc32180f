//! One step of a case in the runtime and in the model.

use super::{Held, World};
use crate::model::actions::{Op, Who};
use crate::model::calls::{expect_failure, expect_success, is_store_failure, Calls};
use crate::model::drive::{act, err, expect_eq, start, Flow};
use crate::model::host::Host;
use crate::model::spec::Phase;
use crate::model::{JARS, KEYS, PASSIVATE_MS, REPLAYS, USERS};
use livesession::testing::Op as StoreOp;
use std::time::Duration;

impl<H: Host> World<H> {
    pub(crate) async fn run_step(&mut self, op: &Op) -> Result<(), String> {
        let fault = self.fault;
        match op {
            Op::Request { who, actions } => {
                let cookie = self.cookie(*who);
                let s = start(self.manager(), cookie.as_deref());
                let mut r = self.model.request(cookie.as_deref());
                for (i, a) in actions.iter().enumerate() {
                    let flow = act(&mut self.model, &s, &mut r, a, fault.as_ref())
                        .await
                        .map_err(|e| format!("action {i} {a:?}: {e}"))?;
                    if flow == Flow::Stop {
                        break;
                    }
                }
                self.finish(*who, &s, r).await
            }
            Op::Open { slot, who } => self.open(*slot, *who).await,
            Op::Continue { slot, action } => {
                if self.held[*slot].is_none() {
                    self.open(*slot, Who::Jar(*slot % JARS)).await?;
                }
                let Some(h) = self.held[*slot].as_mut() else {
                    return Ok(()); // the open failed
                };
                let flow = act(
                    &mut self.model,
                    &h.session,
                    &mut h.request,
                    action,
                    fault.as_ref(),
                )
                .await?;
                if flow == Flow::Stop {
                    self.close(*slot).await?;
                }
                Ok(())
            }
            Op::Close { slot } => self.close(*slot).await,
            Op::Cancel { who, action, cut } => {
                let cookie = self.cookie(*who);
                let s = start(self.manager(), cookie.as_deref());
                let r = self.model.request(cookie.as_deref());
                let held = Held {
                    session: s,
                    who: *who,
                    request: r,
                };
                self.cancel(held, None, action, *cut).await
            }
            Op::CancelHeld { slot, action, cut } => {
                if self.held[*slot].is_none() {
                    self.open(*slot, Who::Jar(*slot % JARS)).await?;
                }
                match self.held[*slot].take() {
                    Some(held) => self.cancel(held, Some(*slot), action, *cut).await,
                    None => Ok(()), // the open failed
                }
            }
            Op::Fault(_) => Ok(()),
            Op::Revoke { user } => {
                let user = USERS[*user];
                let got = self.manager().revoke_user(user).await;
                // New sessions bound to the user inside open requests are
                // never created (marked when the revoke starts, even if it
                // then fails).
                for held in self.held.iter_mut().flatten() {
                    if let Phase::Fresh(view) = &held.request.phase {
                        if view.user.as_deref() == Some(user) {
                            held.request.binding_revoked = true;
                        }
                    }
                }
                let bound = !self.bound_to(user).is_empty();
                let calls = fault.map_or(Calls::Never, |f| match f.op {
                    StoreOp::KeysForUser | StoreOp::Flush => Calls::Always,
                    StoreOp::Delete if bound => Calls::Always,
                    StoreOp::Load | StoreOp::Delete => Calls::Maybe,
                    _ => Calls::Never,
                });
                match got {
                    Ok(n) => {
                        expect_success(fault.as_ref(), calls)?;
                        expect_eq("revoked", n, self.model.revoke(user) + self.uncreated)
                    }
                    Err(e) if is_store_failure(&e) => {
                        expect_failure(fault.as_ref(), calls, &e.to_string())?;
                        self.heal().await;
                        self.learn_revoked(user).await
                    }
                    Err(e) => Err(format!("revoke_user failed: {e:?}")),
                }
            }
            Op::Concurrent { who, key, k } => self.concurrent(*who, KEYS[*key], *k).await,
            Op::SaveCookie { jar } => {
                if let Some(c) = self.jars[*jar].clone() {
                    if self.replays.len() < REPLAYS {
                        self.replays.push(c);
                    } else {
                        self.replays[self.saved % REPLAYS] = c;
                    }
                    self.saved += 1;
                }
                Ok(())
            }
            Op::Advance { ms } => {
                // An open request racing its session's expiry or passivation
                // has no single sequential outcome: abandon open requests.
                self.held = Default::default();
                self.advance(*ms);
                if self.durable && self.model.known.load_during_passivation_lost {
                    // Every session is due: let them go (see `Known`).
                    self.wait_until_passivated().await?;
                }
                Ok(())
            }
            Op::Sleep { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Op::Passivate => {
                self.advance(PASSIVATE_MS);
                if !self.durable {
                    self.held = Default::default();
                    return Ok(());
                }
                self.wait_until_passivated().await?;
                // Every session has left memory: the live ones were written
                // out (retired); expired or ended ones are dead.
                for h in self.held.iter_mut().flatten() {
                    if let Phase::Live { id, retired, .. } = &mut h.request.phase {
                        *retired |= self.model.alive(id);
                    }
                }
                Ok(())
            }
            Op::Restart => {
                if self.durable {
                    self.held = Default::default();
                    let manager = self.manager.take().expect("a manager");
                    manager.shutdown().await.map_err(err("shutdown"))?;
                    drop(manager);
                    self.host.restart();
                    self.manager = Some(self.make_manager());
                    // Which ids ended a moment ago is kept in memory only.
                    for s in self.model.sessions.values_mut() {
                        s.ended_by_request_at = None;
                    }
                }
                Ok(())
            }
        }
    }

    pub(crate) fn advance(&mut self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
        self.model.now += ms;
    }

    pub(crate) async fn wait_until_passivated(&mut self) -> Result<(), String> {
        let (mut fewest, mut since, mut pushes) = (u64::MAX, std::time::Instant::now(), 0);
        for _ in 0..2500 {
            let stats = self.manager().stats().await.map_err(err("stats"))?;
            if stats.live == 0 {
                return Ok(());
            }
            if stats.live < fewest {
                (fewest, since) = (stats.live, std::time::Instant::now());
            }
            if self.faulted && since.elapsed() > Duration::from_millis(100) && pushes < 8 {
                // A passivation failed under an earlier fault and backs off
                // (1 s, doubling, on the session clock): move the clock on.
                // Open requests would race it: abandon them.
                self.held = Default::default();
                self.advance(1000 << pushes);
                (pushes, since) = (pushes + 1, std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let stats = self.manager().stats().await.map_err(err("stats"))?;
        Err(format!(
            "sessions idle past passivate_after still in memory after 5 s: {stats:?}"
        ))
    }
}
