//! Parse cookie dates: IMF-fixdate (`Thu, 01 Jan 1970 00:00:00 GMT`), also
//! the Netscape form with dashes (`Thu, 01-Jan-1970 00:00:00 GMT`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn parse(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (_, rest) = s.split_once(", ")?;
    let rest = rest.trim();
    // "01 Jan 1970 00:00:00 GMT" or "01-Jan-1970 00:00:00 GMT"
    let (date, rest) = rest.split_once(' ')?;
    let (date, rest) = if date.contains('-') {
        (date.to_string(), rest)
    } else {
        let mut it = rest.splitn(3, ' ');
        let mon = it.next()?;
        let year = it.next()?;
        let rest = it.next()?;
        (format!("{date}-{mon}-{year}"), rest)
    };
    let mut d = date.split('-');
    let day: u32 = d.next()?.parse().ok()?;
    let mon = d.next()?;
    let mut year: i64 = d.next()?.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(mon))? as u32
        + 1;
    let (time, tz) = rest.split_once(' ')?;
    if !tz.trim().eq_ignore_ascii_case("GMT") && !tz.trim().eq_ignore_ascii_case("UTC") {
        return None;
    }
    let mut t = time.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    if day == 0 || day > 31 || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86400 + h * 3600 + mi * 60 + se;
    if secs >= 0 {
        Some(UNIX_EPOCH + Duration::from_secs(secs as u64))
    } else {
        Some(UNIX_EPOCH - Duration::from_secs((-secs) as u64))
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Seconds since the epoch (negative before it), for messages and maths.
pub fn epoch_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The year of a time (UTC).
pub fn year_of(t: SystemTime) -> i64 {
    let secs = epoch_secs(t).floor() as i64;
    let days = secs.div_euclid(86400);
    // civil_from_days
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    if m <= 2 {
        y + 1
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Some(UNIX_EPOCH));
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784111777))
        );
        assert_eq!(
            parse("Sun, 06-Nov-1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784111777))
        );
        assert_eq!(
            parse("Mon, 01 Feb 1971 00:01:01 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(34214461))
        );
        assert_eq!(year_of(UNIX_EPOCH), 1970);
        assert_eq!(year_of(UNIX_EPOCH + Duration::from_secs(784111777)), 1994);
        assert_eq!(parse("garbage"), None);
    }
}
