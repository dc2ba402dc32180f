//! The data API of [`Session`]: get, data, insert, remove, clear, update;
//! its id and user binding.

use super::state::Phase;
use super::Session;
use crate::error::SessionError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

impl Session {
    /// The value under `key`, deserialized into `T`; `None` when absent.
    /// A value of another shape is [`SessionError::Decode`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Cart {
    ///     items: Vec<u32>,
    /// }
    ///
    /// session.insert("cart", Cart { items: vec![7] }).await.unwrap();
    /// let cart: Option<Cart> = session.get("cart").await.unwrap();
    /// assert_eq!(cart, Some(Cart { items: vec![7] }));
    /// assert_eq!(session.get::<Cart>("wishlist").await.unwrap(), None);
    /// // Asking for another shape than the one stored is an error, not a panic.
    /// assert!(matches!(session.get::<String>("cart").await, Err(SessionError::Decode { .. })));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Decode`] when the stored value has another shape;
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.read(|r| {
            r.data
                .get(key)
                .map(|v| {
                    T::deserialize(v).map_err(|source| SessionError::Decode {
                        key: key.to_string(),
                        source,
                    })
                })
                .transpose()
        })
        .await?
    }

    /// All of the session's data as JSON values.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("theme", "dark").await.unwrap();
    /// session.insert("visits", 3).await.unwrap();
    /// let data = session.data().await.unwrap();
    /// assert_eq!(data.len(), 2);
    /// assert_eq!(data["theme"], serde_json::json!("dark"));
    /// assert_eq!(data["visits"], serde_json::json!(3));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn data(&self) -> Result<BTreeMap<String, Value>, SessionError> {
        self.read(|r| r.data.clone().into()).await
    }

    /// Stores `value` under `key` (any serde type).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("theme", "dark").await.unwrap();
    /// session.insert("recent", vec![3, 1, 4]).await.unwrap();
    /// assert_eq!(session.get::<Vec<u32>>("recent").await.unwrap(), Some(vec![3, 1, 4]));
    /// // Inserting again replaces the value.
    /// session.insert("theme", "light").await.unwrap();
    /// assert_eq!(session.get::<String>("theme").await.unwrap().as_deref(), Some("light"));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Encode`] when `value` does not serialize,
    /// [`SessionError::LimitExceeded`] when the session would pass a configured
    /// limit; [`SessionError::Store`] when the store fails or times out
    /// (nothing of the call is applied), [`SessionError::Unavailable`] while
    /// the manager shuts down, and [`SessionError::Finished`] after the
    /// response was sent.
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(SessionError::Encode)?;
        let key = key.to_string();
        self.mutate(Box::new(move |r| {
            r.data.set(&key, value.clone());
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// Removes `key`; returns its previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("flash", "Saved!").await.unwrap();
    /// // Read once, then gone: a flash message.
    /// let flash = session.remove("flash").await.unwrap();
    /// assert_eq!(flash, Some(serde_json::json!("Saved!")));
    /// assert_eq!(session.remove("flash").await.unwrap(), None);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SessionError> {
        let key = key.to_string();
        self.mutate(Box::new(move |r| Ok(r.data.remove(&key))))
            .await
    }

    /// Removes every key (the session and its id stay).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("theme", "dark").await.unwrap();
    /// session.save().await.unwrap();
    /// let id = session.id().await.unwrap();
    /// session.clear().await.unwrap();
    /// assert!(session.data().await.unwrap().is_empty());
    /// assert_eq!(session.id().await.unwrap(), id); // same session, no data
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.mutate(Box::new(|r| {
            r.data.clear();
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// Atomic read-modify-write of one key: `f` gets the current value
    /// (`None` when absent) and returns the new one, which is stored and
    /// returned. `f` runs where the session's changes are applied one at a
    /// time (its owner, or in memory mode the request itself under the
    /// session's lock), so concurrent updates of one key never lose an
    /// increment. Keep `f` short and never block in it: other changes to
    /// the session wait for it. A current value that does not deserialize
    /// into `T` fails with [`SessionError::Decode`] and changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// let n = session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await.unwrap();
    /// assert_eq!(n, 1);
    /// session.insert("n", "not a number").await.unwrap();
    /// assert!(session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await.is_err());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Decode`] when the current value has another shape,
    /// [`SessionError::LimitExceeded`] past a limit,
    /// [`SessionError::UpdatePanicked`] when `f` panics (each applies nothing);
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn update<T, F>(&self, key: &str, mut f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnMut(Option<T>) -> T + Send + 'static,
    {
        let key = key.to_string();
        let value = self
            .mutate(Box::new(move |r| {
                let current = r
                    .data
                    .get(&key)
                    .map(|v| {
                        T::deserialize(v).map_err(|source| SessionError::Decode {
                            key: key.clone(),
                            source,
                        })
                    })
                    .transpose()?;
                let new = serde_json::to_value(f(current)).map_err(SessionError::Encode)?;
                r.data.set(&key, new.clone());
                Ok(Some(new))
            }))
            .await?
            .unwrap_or(Value::Null);
        T::deserialize(value).map_err(|source| SessionError::Decode {
            key: String::new(),
            source,
        })
    }

    /// The session id, or `None` while the session is new and not stored
    /// yet. A new session (including one just regenerated) is stored when
    /// the request finishes, or at once by [`save`](Self::save).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// assert_eq!(session.id().await.unwrap(), None); // new: not stored yet
    /// session.insert("theme", "dark").await.unwrap();
    /// session.save().await.unwrap();
    /// let id = session.id().await.unwrap().expect("saved sessions have an id");
    /// assert!(!id.is_empty());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn id(&self) -> Result<Option<String>, SessionError> {
        self.load().await?;
        Ok(match &self.state().phase {
            Phase::Live(cell, _) => Some(cell.id().to_string()),
            _ => None,
        })
    }

    /// Binds the session to `user` so
    /// [`SessionManager::revoke_user`](crate::SessionManager::revoke_user) can end it. Call it right after
    /// [`regenerate`](Self::regenerate) at login.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/login", ..Default::default() });
    /// // At login, once the password checked out:
    /// session.regenerate(&[]).await.unwrap();
    /// session.bind_user("alice").await.unwrap();
    /// session.finish().await.unwrap();
    ///
    /// // Later, "log me out everywhere" (or a password change):
    /// assert_eq!(manager.revoke_user("alice").await.unwrap(), 1);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn bind_user(&self, user: &str) -> Result<(), SessionError> {
        let user = user.to_string();
        self.mutate(Box::new(move |r| {
            r.user = Some(user.clone());
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// The user bound with [`bind_user`](Self::bind_user), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// assert_eq!(session.user().await.unwrap(), None); // anonymous
    /// session.bind_user("alice").await.unwrap();
    /// assert_eq!(session.user().await.unwrap().as_deref(), Some("alice"));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.read(|r| r.user.clone()).await
    }
}
