//! What the store holds: records the model does not know, partial revokes,
//! the final audit and the check after a graceful shutdown.

use super::World;
use crate::model::actions::{Action, Op, Who};
use crate::model::drive::{err, expect_eq};
use crate::model::host::Host;
use crate::model::spec::View;
use crate::model::{HELD, JARS, MAX_AGE_MS, USERS};
use livesession::store::SessionKey;

impl<H: Host> World<H> {
    /// With [`Known::revoke_counts_uncreated_records`](crate::model::Known::revoke_counts_uncreated_records): how many unexpired
    /// records bound to `user` the store holds that belong to no session
    /// the model knows (sessions refused at creation whose record stayed).
    pub(crate) async fn uncreated_records(&mut self, user: &str) -> Result<usize, String> {
        if !self.model.known.revoke_counts_uncreated_records {
            return Ok(0);
        }
        let Some(store) = self.host.store() else {
            return Ok(0);
        };
        let known: std::collections::HashSet<SessionKey> = self
            .model
            .sessions
            .keys()
            .map(|id| SessionKey::of_id(id))
            .collect();
        let mut uncreated = 0;
        for key in store
            .keys_for_user(user)
            .await
            .map_err(err("keys_for_user"))?
        {
            if known.contains(&key) {
                continue;
            }
            let record = store.load(&key).await.map_err(err("store load"))?;
            if record.is_some_and(|r| !r.is_expired(self.model.now)) {
                uncreated += 1;
            }
        }
        Ok(uncreated)
    }

    /// The unexpired sessions bound to `user`.
    pub(crate) fn bound_to(&self, user: &str) -> Vec<String> {
        self.model
            .sessions
            .iter()
            .filter(|(id, s)| self.model.alive(id) && s.view.user.as_deref() == Some(user))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A revoke of `user` failed part way: each session bound to it ended
    /// exactly if its record left the store (a revoke deletes first).
    pub(crate) async fn learn_revoked(&mut self, user: &str) -> Result<(), String> {
        let store = self.host.store().expect("a store");
        for id in self.bound_to(user) {
            let record = store
                .load(&SessionKey::of_id(&id))
                .await
                .map_err(err("store load"))?;
            if record.is_none() {
                self.model.session(&id).ended = true;
            }
        }
        Ok(())
    }

    /// Closes open requests, reads every cookie in play, then revokes every
    /// user: the runtime must agree with the model on all of it.
    pub(crate) async fn audit(&mut self) -> Result<(), String> {
        self.armed = None;
        for slot in 0..HELD {
            self.close(slot).await?;
        }
        let touch = |who| Op::Request {
            who,
            actions: vec![Action::Touch],
        };
        for jar in 0..JARS {
            self.step(&touch(Who::Jar(jar)))
                .await
                .map_err(|e| format!("touch of jar {jar}: {e}"))?;
        }
        for replay in 0..self.replays.len() {
            self.step(&touch(Who::Replay(replay)))
                .await
                .map_err(|e| format!("touch of replay {replay}: {e}"))?;
        }
        for user in 0..USERS.len() {
            self.step(&Op::Revoke { user }).await?;
        }
        Ok(())
    }

    /// After a graceful shutdown the store holds every live session exactly
    /// (data, user, creation, expiry from its last load), no record of an
    /// ended one, and an expired one at most as an expired record.
    pub(crate) async fn check_store(&mut self) -> Result<(), String> {
        let Some(store) = self.host.store() else {
            return Ok(());
        };
        for (id, s) in &self.model.sessions {
            let record = store
                .load(&SessionKey::of_id(id))
                .await
                .map_err(err("store load"))?;
            let alive = self.model.alive(id);
            match record {
                Some(r) if alive => {
                    let deadline = self.model.absolute.map(|a| s.created + a);
                    let idle = s.last_load + MAX_AGE_MS;
                    let want = (
                        View {
                            data: s.view.data.clone(),
                            user: s.view.user.clone(),
                        },
                        s.created,
                        deadline,
                        Some(deadline.map_or(idle, |d| d.min(idle))),
                    );
                    let got = (
                        View {
                            data: r.data.into(),
                            user: r.user,
                        },
                        r.created_at_ms,
                        r.absolute_deadline_ms,
                        r.expires_at_ms,
                    );
                    expect_eq(&format!("stored record of live session {id}"), got, want)?;
                }
                None if alive => return Err(format!("live session {id} is not in the store")),
                Some(_) if s.ended => {
                    return Err(format!("ended session {id} is still in the store"))
                }
                Some(r) if !r.is_expired(self.model.now) => {
                    return Err(format!(
                        "expired session {id} is stored as unexpired: {:?}",
                        r.expires_at_ms
                    ))
                }
                Some(_) | None => {}
            }
        }
        Ok(())
    }
}
