//! Cookie helpers: parse `Set-Cookie`, percent-decode/encode values, split a
//! signed value into prefix / id / signature, check the wire shape.

use std::time::SystemTime;

/// One parsed `Set-Cookie` header.
#[derive(Clone, Debug)]
pub struct SetCookie {
    /// The header as received.
    pub raw: String,
    pub name: String,
    /// The value exactly as received (send this back).
    pub value: String,
    /// Attributes in order: (name, optional value), both trimmed.
    pub attrs: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(raw: &str) -> SetCookie {
        let mut parts = raw.split(';');
        let first = parts.next().unwrap_or("");
        let (name, value) = match first.split_once('=') {
            Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
            None => (String::new(), first.trim().to_string()),
        };
        let attrs = parts
            .filter(|p| !p.trim().is_empty())
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
                None => (p.trim().to_string(), None),
            })
            .collect();
        SetCookie {
            raw: raw.to_string(),
            name,
            value,
            attrs,
        }
    }

    /// Is the attribute present (case-insensitive name)?
    pub fn has(&self, attr: &str) -> bool {
        self.attrs.iter().any(|(n, _)| n.eq_ignore_ascii_case(attr))
    }

    /// The attribute's value (first occurrence, case-insensitive name).
    pub fn attr(&self, attr: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.as_deref())
    }

    /// How many times the attribute appears.
    pub fn count(&self, attr: &str) -> usize {
        self.attrs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(attr))
            .count()
    }

    /// The percent-decoded value.
    pub fn decoded(&self) -> String {
        percent_decode(&self.value)
    }

    /// `Expires`, parsed.
    pub fn expires(&self) -> Option<SystemTime> {
        self.attr("Expires").map(|d| {
            super::httpdate::parse(d)
                .unwrap_or_else(|| panic!("unparseable Expires {d:?} in {:?}", self.raw))
        })
    }

    /// A clearing cookie: empty value or `Max-Age=0` (or an `Expires` in the
    /// past).
    pub fn is_clear(&self) -> bool {
        if self.value.is_empty() {
            return true;
        }
        if let Some(ma) = self.attr("Max-Age") {
            if ma.trim().parse::<i64>().map(|v| v <= 0).unwrap_or(false) {
                return true;
            }
        }
        if let Some(e) = self.expires() {
            if e < SystemTime::now() - std::time::Duration::from_secs(60) {
                return true;
            }
        }
        false
    }
}

/// Percent-decode (`%XX`); invalid escapes are kept as they are, and the
/// result is decoded as UTF-8 lossily.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = (b[i + 1] as char).to_digit(16);
            let l = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// encodeURIComponent: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Percent-encode every byte (a valid but unusual encoding of any value).
pub fn encode_every_byte(s: &str) -> String {
    s.as_bytes().iter().map(|c| format!("%{c:02X}")).collect()
}

/// A cookie value split into its parts (after percent-decoding and prefix
/// removal). `None` when the value lacks the prefix or a `.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub id: String,
    pub sig: String,
}

pub fn split_value(value: &str, prefix: &str) -> Option<Signed> {
    let decoded = percent_decode(value);
    let rest = decoded.strip_prefix(prefix)?;
    let (id, sig) = rest.rsplit_once('.')?;
    Some(Signed {
        id: id.to_string(),
        sig: sig.to_string(),
    })
}

/// The id part of a cookie value (panics with the value when malformed).
pub fn id_of(value: &str, prefix: &str) -> String {
    split_value(value, prefix)
        .unwrap_or_else(|| panic!("cookie value {value:?} is not <prefix {prefix:?}><id>.<sig>"))
        .id
}

/// Check `^[A-Za-z0-9_-]{32,}\.[A-Za-z0-9+/]{43}$` on the decoded,
/// prefix-stripped value; returns an explanation when it does not match.
pub fn check_shape(value: &str, prefix: &str) -> Result<Signed, String> {
    let decoded = percent_decode(value);
    let rest = decoded
        .strip_prefix(prefix)
        .ok_or_else(|| format!("value {decoded:?} lacks prefix {prefix:?}"))?;
    let (id, sig) = rest
        .rsplit_once('.')
        .ok_or_else(|| format!("value {decoded:?} has no '.'"))?;
    if id.len() < 32 {
        return Err(format!("id {id:?} is shorter than 32 chars (192 bits)"));
    }
    if !id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(format!("id {id:?} is not URL-safe base64"));
    }
    if sig.len() != 43 {
        return Err(format!(
            "signature {sig:?} is {} chars, not 43 (unpadded base64 of 32 bytes)",
            sig.len()
        ));
    }
    if !sig
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
    {
        return Err(format!("signature {sig:?} is not standard base64"));
    }
    Ok(Signed {
        id: id.to_string(),
        sig: sig.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_parsing() {
        let c = SetCookie::parse(
            "sessionId=s%3Aabc.def; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
        );
        assert_eq!(c.name, "sessionId");
        assert_eq!(c.value, "s%3Aabc.def");
        assert_eq!(c.decoded(), "s:abc.def");
        assert_eq!(c.attr("path"), Some("/"));
        assert!(c.has("httponly"));
        assert!(!c.has("Secure"));
        assert_eq!(c.attr("SameSite"), Some("Lax"));
        assert_eq!(c.expires(), Some(std::time::UNIX_EPOCH));
        assert!(c.is_clear());
        assert_eq!(
            split_value(&c.value, "s:"),
            Some(Signed {
                id: "abc".into(),
                sig: "def".into()
            })
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%2Bb%2f"), "a+b/");
        assert_eq!(encode_uri_component("s:a+b/c.d"), "s%3Aa%2Bb%2Fc.d");
    }
}
