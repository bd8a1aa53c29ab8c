//! The per-source rate limit on dynamic client registration (RFC 7591 lets anyone register, so
//! without one a single address can fill the store as fast as it can send requests).
//!
//! A token bucket per source: [`REGISTRATION_BURST`] registrations at once, refilled at
//! [`REGISTRATIONS_PER_MINUTE`]. An honest client registers once per connection attempt, a
//! few times with retries, and Claude may register twice in one attempt from two egress
//! addresses; the design promises that 30 registrations a minute from one address always
//! pass. With a bucket of 60 refilled at one a second, a source that never sends more than 30
//! in any minute never finds it empty (after t seconds it has sent at most 30 + t/2 and
//! regained t), while a flood gets 60 at once and then one a second. Hosted clients register
//! from a few egress addresses for all their users; 60 a minute per address is far above
//! what one server sees from real people connecting.
//!
//! Memory is bounded: at most [`MAX_TRACKED_SOURCES`] buckets. When that many are tracked,
//! buckets that have refilled (the same as a source never seen) are forgotten; if all are
//! still in use, new sources share one bucket until some refill, so a flood from many
//! addresses is throttled as one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http::request::Parts;

/// Registrations one source may make at once (the bucket size).
pub const REGISTRATION_BURST: u32 = 60;
/// Registrations a source regains per minute (the refill rate, spread evenly: one a second).
pub const REGISTRATIONS_PER_MINUTE: u32 = 60;
/// Sources tracked at once (a few hundred KiB at most).
pub const MAX_TRACKED_SOURCES: usize = 4096;

/// The address a request came from, as the limit sees it; `None` when unknown.
///
/// Read from the connection ([`ConnectInfo`], which [`crate::server::serve`] provides). A
/// router driven without it (in-process tests, an embedding app serving without connect
/// info) has no address: those requests share one bucket, so the limit then holds for the
/// server as a whole. Forwarded headers are not read: any client can set them.
pub(crate) fn source_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// What one bucket is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4([u8; 4]),
    /// The /64 of an IPv6 address: one host usually holds a whole /64, so counting single
    /// addresses would let it register without limit.
    V6([u8; 8]),
    /// Requests without a known address.
    Unknown,
    /// New sources while every tracked bucket is in use.
    Overflow,
}

impl Source {
    fn of(ip: Option<IpAddr>) -> Self {
        match ip.map(|ip| ip.to_canonical()) {
            None => Source::Unknown,
            Some(IpAddr::V4(v4)) => Source::V4(v4.octets()),
            Some(IpAddr::V6(v6)) => {
                let mut prefix = [0; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Source::V6(prefix)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by source (see the module documentation).
#[derive(Debug)]
pub(crate) struct RegistrationLimiter {
    buckets: Mutex<HashMap<Source, Bucket>>,
    burst: f64,
    per_second: f64,
    capacity: usize,
}

impl Default for RegistrationLimiter {
    fn default() -> Self {
        Self::new(
            REGISTRATION_BURST,
            REGISTRATIONS_PER_MINUTE,
            MAX_TRACKED_SOURCES,
        )
    }
}

impl RegistrationLimiter {
    fn new(burst: u32, per_minute: u32, capacity: usize) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            capacity: capacity.max(1),
        }
    }

    fn level(&self, b: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        (b.tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Takes one registration for `ip` at `now`: `Ok`, or `Err` with how long until the
    /// source may register again (whole seconds, at least one; the `Retry-After`).
    pub fn take(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut key = Source::of(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.capacity {
            // A full bucket is the same as none: forget those first.
            buckets.retain(|_, b| self.level(b, now) < self.burst);
            if buckets.len() >= self.capacity {
                key = Source::Overflow;
            }
        }
        let burst = self.burst;
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = self.level(bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            let wait = ((1.0 - tokens) / self.per_second).ceil().max(1.0);
            Err(Duration::from_secs(wait as u64))
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn thirty_a_minute_from_one_address_always_pass() {
        let l = RegistrationLimiter::default();
        let start = Instant::now();
        // Ten minutes of 30 a minute: all at the start of the minute, at its end, and spread.
        for minute in 0..10u64 {
            for i in 0..30u64 {
                let offset = match minute % 3 {
                    0 => 0,
                    1 => 59,
                    _ => i * 2,
                };
                let now = start + Duration::from_secs(minute * 60 + offset);
                assert_eq!(
                    l.take(ip("203.0.113.7"), now),
                    Ok(()),
                    "minute {minute}, #{i}"
                );
            }
        }
    }

    #[test]
    fn a_flood_gets_the_burst_then_one_a_second() {
        let l = RegistrationLimiter::default();
        let start = Instant::now();
        // 2000 registrations in 1.2 s.
        let mut passed = 0;
        let mut waits = Vec::new();
        for i in 0..2000u64 {
            match l.take(ip("203.0.113.7"), start + Duration::from_micros(i * 600)) {
                Ok(()) => passed += 1,
                Err(w) => waits.push(w),
            }
        }
        assert!(
            (60..=62).contains(&passed),
            "{passed} of 2000 registrations passed"
        );
        assert!(waits.iter().all(|w| *w >= Duration::from_secs(1)));
        // Another address, and another IPv6 /64, are not affected; the same /64 is.
        assert_eq!(l.take(ip("203.0.113.8"), start), Ok(()));
        for _ in 0..60 {
            assert_eq!(l.take(ip("2001:db8:1:2::1"), start), Ok(()));
        }
        assert!(l.take(ip("2001:db8:1:2::ffff"), start).is_err());
        assert_eq!(l.take(ip("2001:db8:1:3::1"), start), Ok(()));
        // A refilled bucket serves again.
        assert_eq!(
            l.take(ip("203.0.113.7"), start + Duration::from_secs(3)),
            Ok(())
        );
    }

    #[test]
    fn tracked_sources_are_bounded() {
        let l = RegistrationLimiter::new(2, 60, 100);
        let start = Instant::now();
        for i in 0..1000u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
            let _ = l.take(Some(addr), start);
            let _ = l.take(Some(addr), start);
        }
        assert!(l.tracked() <= 101, "{} buckets", l.tracked());
        // Untracked sources share the overflow bucket, which the flood emptied.
        assert!(l.take(ip("192.0.2.1"), start).is_err());
        // Once the buckets refill, new sources get their own again.
        let later = start + Duration::from_secs(10);
        assert_eq!(l.take(ip("192.0.2.1"), later), Ok(()));
        assert_eq!(l.take(ip("192.0.2.1"), later), Ok(()));
        assert!(l.tracked() <= 101);
    }

    #[test]
    fn unknown_sources_share_one_bucket() {
        let l = RegistrationLimiter::new(3, 60, 100);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(None, now), Ok(()));
        }
        assert_eq!(l.take(None, now), Err(Duration::from_secs(1)));
        assert_eq!(l.take(ip("::ffff:192.0.2.1"), now), Ok(()));
    }
}
