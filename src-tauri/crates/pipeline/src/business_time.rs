//! The business's clock: its IANA time zone and its opening hours.
//!
//! The model is told the time as the business lives it (a customer who writes "today" at
//! 23:30 in Mexico City means the Mexican day, which in UTC is already tomorrow), and the
//! `outside_business_hours` policy condition is evaluated on the same wall clock.
//!
//! Opening hours are lines such as `mon-fri 09:00-18:00` or `sat 10:00-14:00`: a day or a
//! range of days (`mon`…`sun`, ranges may wrap, e.g. `fri-mon`) and a time range. A range
//! that ends at or before its start runs past midnight into the next day (`fri 20:00-02:00`
//! is open Friday night until 2 a.m. Saturday); `24:00` ends at midnight. Days without a
//! line are closed. No lines at all means the business is always open, so a policy rule on
//! business hours never fires until hours are configured.

use jiff::civil::Weekday;
use jiff::tz::TimeZone;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusinessTimeError {
    #[error("business.timezone: {name:?} is not an IANA time zone name (e.g. \"America/Mexico_City\", \"UTC\")")]
    UnknownZone { name: String },
    #[error("business.hours: {line:?}: {why}; write e.g. \"mon-fri 09:00-18:00\"")]
    BadHours { line: String, why: String },
}

/// One opening: on these days (Monday = 0), from `start` to `end`, in minutes after
/// midnight; `end <= start` means past midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Opening {
    days: [bool; 7],
    start: u16,
    end: u16,
}

#[derive(Clone, Debug)]
pub struct BusinessClock {
    zone: TimeZone,
    name: String,
    openings: Vec<Opening>,
    lines: Vec<String>,
}

impl BusinessClock {
    pub fn new(zone: &str, hours: &[String]) -> Result<BusinessClock, BusinessTimeError> {
        let name = zone.trim();
        let tz = TimeZone::get(name).map_err(|_| BusinessTimeError::UnknownZone {
            name: zone.to_string(),
        })?;
        let openings = hours
            .iter()
            .map(|line| parse_line(line))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BusinessClock {
            zone: tz,
            name: name.to_string(),
            openings,
            lines: hours.iter().map(|l| l.trim().to_string()).collect(),
        })
    }

    /// UTC, always open.
    pub fn utc() -> BusinessClock {
        BusinessClock {
            zone: TimeZone::UTC,
            name: "UTC".into(),
            openings: Vec::new(),
            lines: Vec::new(),
        }
    }

    pub fn zone_name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, ms: i64) -> jiff::Zoned {
        let at = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        at.to_zoned(self.zone.clone())
    }

    /// RFC 3339 on the business's wall clock, with its UTC offset, e.g.
    /// `2026-11-24T21:30:00-06:00`.
    pub fn local_rfc3339(&self, ms: i64) -> String {
        self.zoned(ms).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// The weekday and date as people there say it, e.g. `Tuesday 2026-11-24`.
    pub fn local_day(&self, ms: i64) -> String {
        self.zoned(ms).strftime("%A %Y-%m-%d").to_string()
    }

    /// For the model: the hours and whether the business is open at `ms`; `None` without hours.
    pub fn hours_note(&self, ms: i64) -> Option<String> {
        if self.openings.is_empty() {
            return None;
        }
        let now = if self.is_open(ms) {
            "open now"
        } else {
            "closed now"
        };
        Some(format!("{} ({now})", self.lines.join("; ")))
    }

    /// Whether the business is open at `ms` (always, when no hours are configured).
    pub fn is_open(&self, ms: i64) -> bool {
        if self.openings.is_empty() {
            return true;
        }
        let now = self.zoned(ms);
        let day = usize::from(now.weekday().to_monday_zero_offset() as u8);
        let minute = now.hour() as u16 * 60 + now.minute() as u16;
        let yesterday = (day + 6) % 7;
        self.openings.iter().any(|o| {
            if o.end > o.start {
                o.days[day] && minute >= o.start && minute < o.end
            } else {
                // Past midnight: the evening of a listed day, or the small hours after it.
                (o.days[day] && minute >= o.start) || (o.days[yesterday] && minute < o.end)
            }
        })
    }
}

fn weekday(text: &str) -> Option<usize> {
    let day = match text {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    };
    Some(usize::from(day.to_monday_zero_offset() as u8))
}

fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn parse_line(line: &str) -> Result<Opening, BusinessTimeError> {
    let bad = |why: &str| BusinessTimeError::BadHours {
        line: line.to_string(),
        why: why.to_string(),
    };
    let lower = line.trim().to_ascii_lowercase();
    let mut parts = lower.split_whitespace();
    let (Some(days_text), Some(times_text), None) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected days and a time range separated by a space"));
    };
    let mut days = [false; 7];
    for group in days_text.split(',') {
        let (first, last) = group.split_once('-').unwrap_or((group, group));
        let (Some(first), Some(last)) = (weekday(first), weekday(last)) else {
            return Err(bad("days are mon, tue, wed, thu, fri, sat, sun"));
        };
        let mut d = first;
        loop {
            days[d] = true;
            if d == last {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    let (Some(start), Some(end)) = times_text
        .split_once('-')
        .map_or((None, None), |(a, b)| (minutes(a), minutes(b)))
    else {
        return Err(bad("times are HH:MM-HH:MM on a 24-hour clock"));
    };
    if start == 24 * 60 {
        return Err(bad("an opening cannot start at 24:00"));
    }
    if start == end {
        return Err(bad("an opening needs a duration"));
    }
    // 24:00 as an end is midnight of the same day, not a wrap.
    Ok(Opening { days, start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-25T03:30:00Z: Wednesday in UTC, still Tuesday 21:30 in Mexico City (UTC-6).
    const TUE_2130_MEXICO: i64 = 1_795_577_400_000;

    #[test]
    fn the_local_time_is_stated_in_the_business_zone_when_the_utc_date_differs() {
        let clock = BusinessClock::new("America/Mexico_City", &[]).unwrap();
        assert_eq!(
            clock.local_rfc3339(TUE_2130_MEXICO),
            "2026-11-24T21:30:00-06:00"
        );
        assert_eq!(clock.local_day(TUE_2130_MEXICO), "Tuesday 2026-11-24");
        assert_eq!(
            BusinessClock::utc().local_rfc3339(TUE_2130_MEXICO),
            "2026-11-25T03:30:00+00:00"
        );
    }

    #[test]
    fn opening_hours_are_read_on_the_local_wall_clock() {
        let hours = vec!["mon-fri 09:00-18:00".to_string(), "wed 20:00-22:00".into()];
        let mexico = BusinessClock::new("America/Mexico_City", &hours).unwrap();
        // Tuesday 21:30 there: closed (UTC says Wednesday 03:30, also closed, but for the
        // wrong reason; see the next case).
        assert!(!mexico.is_open(TUE_2130_MEXICO));
        // Same instant in Tokyo is Wednesday 12:30: open.
        let tokyo = BusinessClock::new("Asia/Tokyo", &hours).unwrap();
        assert!(tokyo.is_open(TUE_2130_MEXICO));
        // Tuesday 21:30 Mexico + 24 h = Wednesday 21:30 there: the Wednesday evening line.
        assert!(mexico.is_open(TUE_2130_MEXICO + 24 * 3_600_000));
    }

    #[test]
    fn overnight_and_wrapping_ranges() {
        let clock = BusinessClock::new(
            "UTC",
            &["fri 20:00-02:00".to_string(), "sat-sun 10:00-24:00".into()],
        )
        .unwrap();
        // 2026-11-27 is a Friday.
        let fri = 1_795_737_600_000; // 2026-11-27T00:00:00Z
        let h = 3_600_000;
        assert!(!clock.is_open(fri + 19 * h));
        assert!(clock.is_open(fri + 23 * h), "Friday night");
        assert!(
            clock.is_open(fri + 25 * h),
            "1 a.m. Saturday belongs to Friday's line"
        );
        assert!(!clock.is_open(fri + 26 * h), "closes at 2");
        assert!(
            clock.is_open(fri + 24 * h + 23 * h + 59 * 60_000),
            "until midnight"
        );
        let wrap = BusinessClock::new("UTC", &["fri-mon 09:00-10:00".to_string()]).unwrap();
        assert!(
            wrap.is_open(fri + 3 * 24 * h + 9 * h),
            "Monday is in fri-mon"
        );
        assert!(!wrap.is_open(fri + 4 * 24 * h + 9 * h), "Tuesday is not");
    }

    #[test]
    fn no_hours_means_always_open_and_bad_input_is_named() {
        assert!(BusinessClock::utc().is_open(TUE_2130_MEXICO));
        assert_eq!(
            BusinessClock::new("Mars/Olympus", &[]).unwrap_err(),
            BusinessTimeError::UnknownZone {
                name: "Mars/Olympus".into()
            }
        );
        for bad in [
            "mon-fri",
            "mon 9-18",
            "xyz 09:00-10:00",
            "mon 10:00-10:00",
            "mon 25:00-26:00",
        ] {
            let err = BusinessClock::new("UTC", &[bad.to_string()]).unwrap_err();
            assert!(
                err.to_string().contains(bad) && err.to_string().contains("business.hours"),
                "{err}"
            );
        }
    }
}
