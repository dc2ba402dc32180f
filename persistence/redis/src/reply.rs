//! Reading replies without trusting their shape: anything unexpected is an
//! error, never a panic. Error messages name what was expected, never the
//! reply itself (it may hold session data).

use livesession::store::StoreError;
use redis::Value;

/// An error for a reply of an unexpected shape.
pub(crate) fn unexpected(what: &str) -> StoreError {
    StoreError::backend(format!("unexpected reply shape from Redis: {what}"))
}

/// The reply with RESP3 attributes removed, and server errors as errors.
fn plain(v: &Value) -> Result<&Value, StoreError> {
    match v {
        Value::Attribute { data, .. } => plain(data),
        Value::ServerError(e) => Err(StoreError::backend(redis::RedisError::from(e.clone()))),
        other => Ok(other),
    }
}

/// An integer reply (or a string holding one).
pub(crate) fn int(v: &Value, what: &str) -> Result<i64, StoreError> {
    match plain(v)? {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| unexpected(what)),
        Value::SimpleString(s) => s.parse().map_err(|_| unexpected(what)),
        _ => Err(unexpected(what)),
    }
}

/// A non-negative integer reply.
pub(crate) fn uint(v: &Value, what: &str) -> Result<u64, StoreError> {
    u64::try_from(int(v, what)?).map_err(|_| unexpected(what))
}

/// A binary string reply; `None` for nil.
pub(crate) fn bytes<'a>(v: &'a Value, what: &str) -> Result<Option<&'a [u8]>, StoreError> {
    match plain(v)? {
        Value::Nil => Ok(None),
        Value::BulkString(b) => Ok(Some(b)),
        Value::SimpleString(s) => Ok(Some(s.as_bytes())),
        _ => Err(unexpected(what)),
    }
}

/// An array reply (RESP3 sets too); nil is empty.
pub(crate) fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], StoreError> {
    match plain(v)? {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(&[]),
        _ => Err(unexpected(what)),
    }
}

/// The element `i` of a script's reply array.
pub(crate) fn at<'a>(items: &'a [Value], i: usize, what: &str) -> Result<&'a Value, StoreError> {
    items.get(i).ok_or_else(|| unexpected(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_shapes_are_errors_not_panics() {
        let odd = [
            Value::Nil,
            Value::Okay,
            Value::Double(1.5),
            Value::Boolean(true),
            Value::Map(vec![]),
            Value::BulkString(b"not a number".to_vec()),
            Value::Int(-1),
        ];
        for v in &odd {
            let _ = int(v, "test");
            let _ = bytes(v, "test");
            let _ = array(v, "test");
        }
        assert!(uint(&Value::Int(-1), "test").is_err());
        assert_eq!(
            uint(&Value::BulkString(b"42".to_vec()), "test").unwrap(),
            42
        );
        assert!(at(&[], 0, "test").is_err());
        assert!(array(&Value::Okay, "test").is_err());
    }
}
