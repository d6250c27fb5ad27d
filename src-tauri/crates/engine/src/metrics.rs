//! The supervisors' dashboard: daily figures over the business's own calendar days.

use crate::{Engine, EngineError};
use jiff::tz::TimeZone;
use switchboard_core::Timestamp;
use switchboard_store::queries::metrics;

pub use metrics::{DayMetrics, DayRange};

/// The longest period one request may ask for.
pub const MAX_DAYS: u32 = 366;

#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// The IANA zone whose calendar days these are.
    pub time_zone: String,
    /// Oldest day first; the last is today (so far).
    pub days: Vec<DayMetrics>,
}

/// The last `days` calendar days in `zone` up to and including the one containing `now`.
/// Each runs from one local midnight (or the first instant of the day, where DST skips
/// midnight) to the next, so a DST day lasts 23 or 25 hours.
pub fn day_ranges(zone: &str, now: Timestamp, days: u32) -> Result<Vec<DayRange>, EngineError> {
    let tz = TimeZone::get(zone).map_err(|e| {
        EngineError::Invalid(format!(
            "business.timezone {zone:?} is not a time zone this system knows ({e})"
        ))
    })?;
    let internal = |e: jiff::Error| EngineError::Internal(format!("calendar arithmetic: {e}"));
    let today = jiff::Timestamp::from_millisecond(now)
        .map_err(internal)?
        .to_zoned(tz.clone())
        .date();
    let start_of = |date: jiff::civil::Date| -> Result<Timestamp, EngineError> {
        Ok(date
            .to_zoned(tz.clone())
            .map_err(internal)?
            .timestamp()
            .as_millisecond())
    };
    let mut ranges = Vec::with_capacity(days as usize);
    for back in (0..days.clamp(1, MAX_DAYS)).rev() {
        let date = today
            .checked_sub(jiff::Span::new().days(i64::from(back)))
            .map_err(internal)?;
        ranges.push(DayRange {
            day: date.to_string(),
            start: start_of(date)?,
            end: start_of(date.tomorrow().map_err(internal)?)?,
        });
    }
    Ok(ranges)
}

impl Engine {
    /// Figures for the last `days` days (1 to [`MAX_DAYS`]) in the business's time zone.
    pub async fn metrics(&self, days: u32) -> Result<Metrics, EngineError> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(EngineError::Invalid(format!(
                "days must be between 1 and {MAX_DAYS}, not {days}"
            )));
        }
        let time_zone = self.config().business.timezone.clone();
        let ranges = day_ranges(&time_zone, self.now_ms(), days)?;
        let days = self
            .store()
            .read(move |c| metrics::daily(c, &ranges))
            .await?;
        Ok(Metrics { time_zone, days })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn days_follow_the_zone_not_utc() {
        // 2024-03-10 03:30 UTC is still 2024-03-09 in Mexico City (UTC-6).
        let now = 1_710_041_400_000;
        let days = day_ranges("America/Mexico_City", now, 2).unwrap();
        assert_eq!(days[1].day, "2024-03-09");
        assert_eq!(days[0].day, "2024-03-08");
        assert_eq!(
            days[1].start, 1_709_964_000_000,
            "local midnight is 06:00 UTC"
        );
        assert_eq!(days[1].end - days[1].start, 24 * HOUR);
        assert_eq!(days[0].end, days[1].start, "days are contiguous");
    }

    #[test]
    fn a_dst_day_has_23_hours() {
        // Europe/Madrid springs forward on 2024-03-31.
        let now = 1_711_890_000_000; // 2024-03-31 13:00 UTC
        let days = day_ranges("Europe/Madrid", now, 1).unwrap();
        assert_eq!(days[0].day, "2024-03-31");
        assert_eq!(days[0].end - days[0].start, 23 * HOUR);
    }

    #[test]
    fn an_unknown_zone_is_a_clear_error() {
        let err = day_ranges("Mars/Olympus_Mons", 0, 1).unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus_Mons"), "{err}");
    }
}
