//! The pure rules that both halves of mcpgen decide alike: the generator (`mcpgen check`,
//! `mcpgen doctor`) when it validates a spec or probes a server, and the runtime
//! (`mcpgen-runtime`) when it starts and answers requests. Each rule has one definition here,
//! so a spec the generator accepts is one the runtime starts with, and a request the doctor
//! calls well-formed is one the runtime accepts.
//!
//! - [`loopback`]: whether a host or URL is loopback (`localhost`, 127.0.0.0/8, `[::1]`).
//! - [`base_url`]: what a public URL or issuer may be, and the origin and paths derived from
//!   it.
//! - [`scope`]: the RFC 6749 §3.3 scope grammar, and how scope strings are parsed and joined.
//! - [`text`]: the characters no text shown to a person may hold raw (controls, bidi controls).
//!
//! No I/O, no allocation beyond the values returned; the only dependency is `url`.

pub mod base_url;
pub mod loopback;
pub mod scope;
pub mod text;

pub use base_url::{BaseUrlError, check_base_url, parse_base_url};
pub use loopback::{is_loopback_host, is_loopback_url};
pub use scope::{SCOPE_TOKEN_PATTERN, is_scope, is_scope_token};
pub use text::{is_bidi_control, is_unsafe_char};
