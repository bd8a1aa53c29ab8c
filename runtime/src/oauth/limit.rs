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
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use http::request::Parts;
use http::{HeaderMap, header};
use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};

/// Registrations one source may make at once (the bucket size).
pub const REGISTRATION_BURST: u32 = 60;
/// Registrations a source regains per minute (the refill rate, spread evenly: one a second).
pub const REGISTRATIONS_PER_MINUTE: u32 = 60;
/// Sources tracked at once (a few hundred KiB at most).
pub const MAX_TRACKED_SOURCES: usize = 4096;

/// The address a request came from, as the limits see it; `None` when unknown.
///
/// Read from the connection ([`ConnectInfo`], which [`crate::server::serve`] provides). When
/// that peer is one of the operator's `trusted` proxies (`--trusted-proxies`), the client is
/// taken from the forwarded chain instead: see [`forwarded_client`]. With no trusted proxies,
/// forwarded headers are never read, since any client can set them. A router driven without
/// connect info (in-process tests, an embedding app serving without it) has no address: those
/// requests share one bucket, so the limits then hold for the server as a whole.
pub(crate) fn source_ip(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    Some(forwarded_client(peer, &parts.headers, trusted))
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client address behind trusted proxies: the right-most address of the chain (the
/// forwarded addresses, then the socket peer) that is not a trusted proxy. Each proxy appends
/// the address it received the request from, so everything right of the first untrusted hop
/// was written by a trusted proxy and everything left of it may be forged by the client.
///
/// The chain is `X-Forwarded-For` (all its header lines, in order), or when there is none the
/// `for=` parameters of `Forwarded` (RFC 7239 §5.2). When every hop is trusted, or a hop is not
/// an address (`unknown`, an obfuscated identifier, garbage), the last trusted hop read is
/// used: the request is then counted against the proxy.
pub(crate) fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let joined = |name: header::HeaderName| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let hops: Vec<Option<IpAddr>> =
        if let Some(xff) = joined(header::HeaderName::from_static("x-forwarded-for")) {
            xff.split(',').map(parse_hop).collect()
        } else if let Some(fwd) = joined(header::FORWARDED) {
            fwd.split(',')
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_hop(v))
                })
                .collect()
        } else {
            Vec::new()
        };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip, trusted) {
                    return ip;
                }
            }
            None => return client,
        }
    }
    client
}

/// One forwarded hop: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, the
/// last three possibly quoted (RFC 7239 §6).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = v.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    v.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Parses `--trusted-proxies`: comma-separated CIDR blocks or single addresses
/// (`10.0.0.0/8,192.0.2.7,fd00::/8`). `Err` names the first entry that is neither.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| s.to_owned())
        })
        .collect()
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

/// Consent-password attempts one source (an IPv4 address, an IPv6 /64) may make at once.
/// The owner mistyping a few times never meets the limit; a guesser gets 10 at once, then
/// [`PASSWORDS_PER_MINUTE`].
pub const PASSWORD_BURST: u32 = 10;
/// Consent-password attempts a source regains per minute (one every 12 s): a single address
/// can try at most 7,200 passwords a day.
pub const PASSWORDS_PER_MINUTE: u32 = 5;
/// Consent-password attempts the whole server takes at once, from all sources together: six
/// sources' bursts. It bounds how fast a password can be guessed from many addresses; it is
/// well above one source's limit, so one source alone can never lock the owner out.
pub const PASSWORD_GLOBAL_BURST: u32 = 60;
/// Consent-password attempts the whole server regains per minute (twelve sources' worth).
pub const PASSWORDS_GLOBAL_PER_MINUTE: u32 = 60;
/// Argon2 checks that run at once, each on its own long-lived thread. A check holds its hash's
/// memory (19 MiB with the parameters [`hash_password`](super::hash_password) uses) and a CPU
/// for about 40 ms. Fixed threads, not the blocking pool: the allocator keeps each thread's
/// freed memory for that thread, so checks spread over many threads would leave 19 MiB behind
/// on each. With two, password checks use about 40 MiB whatever arrives, and leave the other
/// cores to requests.
pub const PASSWORD_CHECKS_AT_ONCE: usize = 2;
/// Attempts that may wait for a check; more are answered 429 at once. 16 waiting behind two
/// running checks is about 0.3 s of waiting.
pub const PASSWORD_CHECK_QUEUE: usize = 16;

/// The consent-password limits: every attempt takes a token from its source's bucket and from
/// the server-wide one before the password is checked (so concurrent attempts cannot race
/// past the limit), and the checks run on [`PASSWORD_CHECKS_AT_ONCE`] threads, with at most
/// [`PASSWORD_CHECK_QUEUE`] attempts waiting.
#[derive(Debug)]
pub(crate) struct PasswordLimiter {
    sources: RegistrationLimiter,
    global: RegistrationLimiter,
    /// The checking threads' queue, started at the first check; the threads end when this
    /// is dropped.
    checks: OnceLock<mpsc::Sender<Check>>,
}

/// One password to check and where to send the answer.
#[derive(Debug)]
struct Check {
    hash: String,
    password: String,
    answer: oneshot::Sender<bool>,
}

impl Default for PasswordLimiter {
    fn default() -> Self {
        Self {
            sources: RegistrationLimiter::new(
                PASSWORD_BURST,
                PASSWORDS_PER_MINUTE,
                MAX_TRACKED_SOURCES,
            ),
            global: RegistrationLimiter::new(PASSWORD_GLOBAL_BURST, PASSWORDS_GLOBAL_PER_MINUTE, 1),
            checks: OnceLock::new(),
        }
    }
}

/// Why a password attempt was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The source used up its attempts; retry after this long.
    Source(Duration),
    /// The server-wide ceiling is reached; retry after this long.
    Global(Duration),
    /// Too many checks are already waiting.
    Busy,
}

impl PasswordLimiter {
    /// Counts one attempt from `ip` at `now` against its source's and the global limit.
    pub fn take(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Refused> {
        self.sources.take(ip, now).map_err(Refused::Source)?;
        self.global.take(None, now).map_err(Refused::Global)
    }

    fn queue(&self) -> &mpsc::Sender<Check> {
        self.checks.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Check>(PASSWORD_CHECK_QUEUE);
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..PASSWORD_CHECKS_AT_ONCE {
                let rx = Arc::clone(&rx);
                let spawned = std::thread::Builder::new()
                    .name(format!("mcpgen-password-{i}"))
                    .spawn(move || {
                        let mut memory = super::password::Memory::default();
                        loop {
                            let next = rx.lock().unwrap_or_else(|e| e.into_inner()).blocking_recv();
                            let Some(check) = next else { break };
                            // The request was abandoned while it waited.
                            if check.answer.is_closed() {
                                continue;
                            }
                            let ok = super::password::verify_password_in(
                                &check.hash,
                                &check.password,
                                &mut memory,
                            );
                            let _ = check.answer.send(ok);
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!(target: "mcpgen::oauth", error = ?e.to_string(), "cannot start a password checking thread");
                }
            }
            // With no thread started, the receiver is gone and every check is refused as busy.
            tx
        })
    }

    /// Checks `password` against `hash` on one of the checking threads; `Err(Busy)` when
    /// [`PASSWORD_CHECK_QUEUE`] checks are already waiting.
    pub async fn verify(&self, hash: String, password: String) -> Result<bool, Refused> {
        let (answer, result) = oneshot::channel();
        self.queue()
            .try_send(Check {
                hash,
                password,
                answer,
            })
            .map_err(|_| Refused::Busy)?;
        result.await.map_err(|_| Refused::Busy)
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

    fn nets(s: &str) -> Vec<IpNet> {
        parse_trusted_proxies(s).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let xff = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9")]);
        // No trusted proxies, or a peer outside them: the socket address, whatever is sent.
        assert_eq!(forwarded_client(peer, &xff, &[]), peer);
        assert_eq!(forwarded_client(peer, &xff, &nets("10.1.0.0/16")), peer);
        // Behind a trusted proxy: the right-most address it did not add itself. The client
        // can prepend anything; the proxy appends the address it saw.
        let trusted = nets("10.0.0.0/8, 192.0.2.7");
        assert_eq!(
            forwarded_client(peer, &xff, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Chained proxies are skipped; several header lines are one list.
        let chained = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9, 192.0.2.7"),
        ]);
        assert_eq!(
            forwarded_client(peer, &chained, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Forwarded (RFC 7239), with ports, quotes and IPv6, when there is no X-Forwarded-For.
        let fwd = headers(&[(
            "forwarded",
            "for=198.51.100.1;proto=https, for=\"[2001:db8::1]:4711\";by=10.0.0.5",
        )]);
        assert_eq!(
            forwarded_client(peer, &fwd, &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // A hop that is not an address, or only trusted hops: the last trusted one.
        let unknown = headers(&[("x-forwarded-for", "198.51.100.1, unknown")]);
        assert_eq!(forwarded_client(peer, &unknown, &trusted), peer);
        let all_trusted = headers(&[("x-forwarded-for", "192.0.2.7")]);
        assert_eq!(
            forwarded_client(peer, &all_trusted, &trusted),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(forwarded_client(peer, &HeaderMap::new(), &trusted), peer);
        // IPv4-mapped peers match IPv4 blocks.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(
            forwarded_client(mapped, &xff, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn trusted_proxies_parse_blocks_and_addresses() {
        assert_eq!(
            nets("10.0.0.1/8,192.0.2.7, fd00::/8"),
            vec![
                "10.0.0.0/8".parse::<IpNet>().unwrap(),
                "192.0.2.7/32".parse().unwrap(),
                "fd00::/8".parse().unwrap()
            ]
        );
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8,proxy.local"),
            Err("proxy.local".into())
        );
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/33"),
            Err("10.0.0.0/33".into())
        );
    }

    #[test]
    fn one_source_cannot_use_up_another_ones_passwords() {
        let l = PasswordLimiter::default();
        let now = Instant::now();
        for _ in 0..PASSWORD_BURST {
            assert_eq!(l.take(ip("198.51.100.7"), now), Ok(()));
        }
        assert!(matches!(
            l.take(ip("198.51.100.7"), now),
            Err(Refused::Source(_))
        ));
        assert_eq!(l.take(ip("192.0.2.10"), now), Ok(()));
        // Many sources together meet the global ceiling, which is above one source's burst.
        const { assert!(PASSWORD_GLOBAL_BURST >= 5 * PASSWORD_BURST) };
        let mut passed = PASSWORD_BURST + 1;
        for i in 0..100u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
            if l.take(Some(addr), now).is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, PASSWORD_GLOBAL_BURST);
        assert!(matches!(
            l.take(ip("203.0.113.1"), now),
            Err(Refused::Global(_))
        ));
    }

    #[tokio::test]
    async fn checks_wait_in_a_bounded_queue() {
        let l = PasswordLimiter::default();
        let hash = super::super::hash_password("right");
        assert_eq!(l.verify(hash.clone(), "right".into()).await, Ok(true));
        assert_eq!(l.verify(hash.clone(), "wrong".into()).await, Ok(false));
        // Far more than the queue at once: some are refused as busy, none hangs, and the
        // rest are answered.
        let results =
            futures_util::future::join_all((0..40).map(|_| l.verify(hash.clone(), "wrong".into())))
                .await;
        let busy = results.iter().filter(|r| **r == Err(Refused::Busy)).count();
        let checked = results.iter().filter(|r| **r == Ok(false)).count();
        assert_eq!(busy + checked, 40);
        assert!(
            busy >= 40 - PASSWORD_CHECKS_AT_ONCE - PASSWORD_CHECK_QUEUE,
            "{busy} busy"
        );
    }
}
