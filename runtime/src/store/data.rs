//! [`SessionData`]: a session's keys and JSON values, as compact as a live
//! session needs.

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A session's data: key -> JSON value, kept sorted by key.
///
/// It behaves like the `BTreeMap<String, serde_json::Value>` it replaces
/// (same methods, same order, same serialized form: a map in key order), but
/// holds its entries in one exactly sized allocation (none when empty):
/// a `BTreeMap` allocates a node for eleven entries even for one, which was
/// the largest part of a small live session. Lookups are binary searches;
/// adding or removing a key moves the entries after it, as sessions hold
/// few keys ([`Limits::max_keys`](crate::Limits)). A key of up to 24 bytes
/// is kept inside its entry (no allocation of its own), so copying a
/// record (which every change does) allocates and reads one block for the
/// entries instead of one more per key.
///
/// It is the type of [`SessionRecord::data`](super::SessionRecord::data):
/// what a [`SessionStore`](super::SessionStore) persists and loads back.
/// Handlers do not see it; they read and write typed values through
/// [`Session`](crate::Session). It serializes as a map in key order, so a
/// store that encodes records with serde (or uses the runtime's
/// [`codec`](super::codec)) needs nothing special for it; it converts from
/// and into a `BTreeMap<String, serde_json::Value>`.
///
/// # Examples
///
/// ```
/// use livesession::store::SessionData;
/// use serde_json::json;
///
/// let mut data = SessionData::new();
/// data.insert("n".to_owned(), json!(1));
/// data.insert("cart".to_owned(), json!([1, 2]));
/// assert_eq!(data.get("n"), Some(&json!(1)));
/// assert_eq!(data.keys().collect::<Vec<_>>(), ["cart", "n"]);
/// assert_eq!(data["cart"], json!([1, 2]));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionData {
    /// Sorted by key, keys unique.
    entries: Box<[(Key, Value)]>,
}

/// A key: up to 24 bytes inline, longer ones on the heap.
type Key = CompactString;

impl SessionData {
    /// No keys (and no allocation).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// let data = SessionData::new();
    /// assert!(data.is_empty());
    /// assert_eq!(data, SessionData::default());
    /// ```
    pub fn new() -> Self {
        SessionData::default()
    }

    /// Number of keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))]);
    /// assert_eq!(data.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::new();
    /// assert!(data.is_empty());
    /// data.insert("a".to_owned(), json!(null)); // a null value is still a key
    /// assert!(!data.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value under `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("user".to_owned(), json!("alice"))]);
    /// assert_eq!(data.get("user"), Some(&json!("alice")));
    /// assert_eq!(data.get("cart"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under `key`, to change in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::from([("n".to_owned(), json!(1))]);
    /// *data.get_mut("n").unwrap() = json!(2);
    /// assert_eq!(data["n"], json!(2));
    /// ```
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("user".to_owned(), json!("alice"))]);
    /// assert!(data.contains_key("user"));
    /// assert!(!data.contains_key("cart"));
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::new();
    /// assert_eq!(data.insert("n".to_owned(), json!(1)), None);
    /// assert_eq!(data.insert("n".to_owned(), json!(2)), Some(json!(1)));
    /// assert_eq!(data.len(), 1);
    /// ```
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.insert_at(i, Key::from(key), value);
                None
            }
        }
    }

    /// Puts a new `key` at position `i` (where the binary search said),
    /// keeping the slice exactly sized.
    fn insert_at(&mut self, i: usize, key: Key, value: Value) {
        let old = std::mem::take(&mut self.entries).into_vec();
        let mut entries = Vec::with_capacity(old.len() + 1);
        let mut old = old.into_iter();
        entries.extend(old.by_ref().take(i));
        entries.push((key, value));
        entries.extend(old);
        self.entries = entries.into_boxed_slice();
    }

    /// Sets `key` to `value`, like [`insert`](Self::insert), but takes the
    /// key by reference: it is copied only when new to the session, so
    /// overwriting a key allocates nothing for it.
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        match self.position(key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.insert_at(i, Key::from(key), value),
        }
    }

    /// Removes `key`; returns its value.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::from([("n".to_owned(), json!(1))]);
    /// assert_eq!(data.remove("n"), Some(json!(1)));
    /// assert_eq!(data.remove("n"), None);
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key).ok()?;
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        let (_, value) = entries.remove(i);
        self.entries = entries.into_boxed_slice();
        Some(value)
    }

    /// Removes every key.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::from([("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))]);
    /// data.clear();
    /// assert!(data.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.entries = Box::default();
    }

    /// Keeps only the entries for which `keep` returns true; it may change
    /// the values it keeps.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::from([("flash".to_owned(), json!("saved")), ("n".to_owned(), json!(1))]);
    /// data.retain(|key, _| key != "flash");
    /// assert_eq!(data.keys().collect::<Vec<_>>(), ["n"]);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Value) -> bool) {
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        entries.retain_mut(|(k, v)| keep(k, v));
        self.entries = entries.into_boxed_slice();
    }

    /// The entries in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("b".to_owned(), json!(2)), ("a".to_owned(), json!(1))]);
    /// let entries: Vec<_> = data.iter().collect();
    /// assert_eq!(entries, [("a", &json!(1)), ("b", &json!(2))]);
    /// ```
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The keys in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("b".to_owned(), json!(2)), ("a".to_owned(), json!(1))]);
    /// assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The values in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let data = SessionData::from([("b".to_owned(), json!(2)), ("a".to_owned(), json!(1))]);
    /// assert_eq!(data.values().collect::<Vec<_>>(), [&json!(1), &json!(2)]);
    /// ```
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values in key order, to change in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionData;
    /// use serde_json::json;
    /// let mut data = SessionData::from([("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))]);
    /// for value in data.values_mut() {
    ///     *value = json!(0);
    /// }
    /// assert_eq!(data["a"], json!(0));
    /// ```
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// From entries already sorted by key with no key twice.
    fn from_sorted(entries: Vec<(Key, Value)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        SessionData {
            entries: entries.into_boxed_slice(),
        }
    }

    /// From entries in any order; for a key given twice the last wins.
    fn from_unsorted(mut entries: Vec<(Key, Value)>) -> Self {
        // Stable: equal keys keep their order, so the last is the latest.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match unique.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => unique.push(entry),
            }
        }
        SessionData::from_sorted(unique)
    }
}

/// The entries of a [`SessionData`] in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (Key, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.as_str(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k.as_str(), v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a SessionData {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for SessionData {
    type Item = (String, Value);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(self.entries.into_vec().into_iter())
    }
}

/// The entries of a [`SessionData`] in key order, taken out of it.
#[derive(Debug)]
pub struct IntoIter(std::vec::IntoIter<(Key, Value)>);

impl Iterator for IntoIter {
    type Item = (String, Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.into_string(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k.into_string(), v))
    }
}

impl ExactSizeIterator for IntoIter {}

/// Collects entries; for a key given twice the last value wins (as for a
/// `BTreeMap`).
impl FromIterator<(String, Value)> for SessionData {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let entries = iter.into_iter().map(|(k, v)| (Key::from(k), v));
        SessionData::from_unsorted(entries.collect())
    }
}

impl Extend<(String, Value)> for SessionData {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        let mut entries = std::mem::take(&mut self.entries).into_vec();
        entries.extend(iter.into_iter().map(|(k, v)| (Key::from(k), v)));
        *self = SessionData::from_unsorted(entries);
    }
}

impl From<BTreeMap<String, Value>> for SessionData {
    fn from(map: BTreeMap<String, Value>) -> Self {
        SessionData::from_sorted(map.into_iter().map(|(k, v)| (Key::from(k), v)).collect())
    }
}

impl From<SessionData> for BTreeMap<String, Value> {
    fn from(data: SessionData) -> Self {
        data.into_iter().collect()
    }
}

impl<const N: usize> From<[(String, Value); N]> for SessionData {
    fn from(entries: [(String, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

/// The value under a key; panics when there is none (as for a `BTreeMap`).
impl std::ops::Index<&str> for SessionData {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).expect("no entry found for key")
    }
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A map in key order: the bytes a `BTreeMap<String, Value>` gives.
impl Serialize for SessionData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Any map of string keys (in any order; for a key given twice the last
/// value wins, as for a `BTreeMap`).
impl<'de> Deserialize<'de> for SessionData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;

        impl<'de> Visitor<'de> for DataVisitor {
            type Value = SessionData;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of session data")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SessionData, A::Error> {
                // The size hint comes from the input: trust it only so far.
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                let mut sorted = true;
                while let Some((k, v)) = access.next_entry::<Key, Value>()? {
                    if let Some((last, _)) = entries.last() {
                        sorted &= *last < k;
                    }
                    entries.push((k, v));
                }
                Ok(if sorted {
                    SessionData::from_sorted(entries)
                } else {
                    SessionData::from_unsorted(entries)
                })
            }
        }

        deserializer.deserialize_map(DataVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn btree(data: &SessionData) -> BTreeMap<String, Value> {
        data.clone().into()
    }

    #[test]
    fn behaves_like_a_btree_map() {
        let mut data = SessionData::new();
        let mut map = BTreeMap::new();
        let ops: [(&str, Option<Value>); 9] = [
            ("b", Some(json!(1))),
            ("a", Some(json!("x"))),
            ("c", Some(json!(null))),
            ("b", Some(json!(2))),
            ("zz", None),
            ("a", None),
            ("", Some(json!({}))),
            ("a", Some(json!([1]))),
            ("c", None),
        ];
        for (k, op) in ops {
            match op {
                Some(v) => assert_eq!(
                    data.insert(k.into(), v.clone()),
                    map.insert(k.to_owned(), v)
                ),
                None => assert_eq!(data.remove(k), map.remove(k)),
            }
            assert_eq!(btree(&data), map);
            assert_eq!(data.len(), map.len());
            assert_eq!(
                serde_json::to_string(&data).unwrap(),
                serde_json::to_string(&map).unwrap()
            );
        }
        data.retain(|k, _| k != "b");
        map.retain(|k, _| k != "b");
        assert_eq!(btree(&data), map);
        assert!(!data.contains_key("b") && data.contains_key("a"));
        data.clear();
        assert!(data.is_empty());
    }

    #[test]
    fn collecting_and_decoding_sort_and_keep_the_last_of_a_key() {
        let data: SessionData = [
            ("b".to_owned(), json!(1)),
            ("a".to_owned(), json!(2)),
            ("b".to_owned(), json!(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(data.iter().collect::<Vec<_>>().len(), 2);
        assert_eq!(data["b"], json!(3));
        assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "b"]);
        let decoded: SessionData = serde_json::from_str(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(decoded, data);
        let map: BTreeMap<String, Value> =
            serde_json::from_str(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(btree(&decoded), map);
    }

    #[test]
    fn encodes_to_the_bytes_of_a_btree_map() {
        let map = BTreeMap::from([
            ("csrf".to_owned(), json!("0123")),
            ("n".to_owned(), json!(7)),
            ("nested".to_owned(), json!({"b": [1, 2], "a": null})),
        ]);
        let data = SessionData::from(map.clone());
        assert_eq!(
            rmp_serde::to_vec_named(&data).unwrap(),
            rmp_serde::to_vec_named(&map).unwrap()
        );
        assert_eq!(format!("{data:?}"), format!("{map:?}"));
    }

    #[test]
    fn keys_inline_and_on_the_heap_behave_alike() {
        // 24 bytes fit inside the entry; 25 and more live on the heap.
        let keys = [
            "k".repeat(24),
            "k".repeat(25),
            "é".repeat(150),
            String::new(),
        ];
        let mut data = SessionData::new();
        let mut map = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            data.insert(k.clone(), json!(i));
            map.insert(k.clone(), json!(i));
        }
        data.set(&keys[1], json!("replaced"));
        map.insert(keys[1].clone(), json!("replaced"));
        assert_eq!(btree(&data), map);
        assert!(data.keys().eq(map.keys().map(String::as_str)));
        let bytes = rmp_serde::to_vec_named(&data).unwrap();
        assert_eq!(bytes, rmp_serde::to_vec_named(&map).unwrap());
        let decoded: SessionData = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded, data);
        assert_eq!(data.remove(&keys[2]), Some(json!(2)));
        assert_eq!(data.get(&keys[0]), Some(&json!(0)));
    }

    #[test]
    fn set_replaces_in_place_and_inserts_in_order() {
        let mut data = SessionData::from([("b".to_owned(), json!(1))]);
        data.set("b", json!(2));
        data.set("a", json!(0));
        data.set("c", json!(3));
        assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(data["b"], json!(2));
        assert_eq!(data.len(), 3);
    }
}
