//! The bearer token: where it lives on disk, and how a request proves it holds it.
//!
//! One shared secret guards every route that carries data or changes something. It is compared in constant
//! time (so response timing does not reveal how many leading characters of a guess were right), and a
//! refused request learns nothing: the same 401 body whatever was wrong, and whether the route exists.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::TryRngCore;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The name of the token file inside the data directory.
pub const TOKEN_FILE: &str = "admin-token";

/// Random bytes in a generated token (shown as twice as many hex digits).
const TOKEN_BYTES: usize = 32;

/// Reads the admin token from `data_dir/admin-token`, or creates one: 32 random bytes from the operating
/// system, hex-encoded, written with mode 0600 so only the cluster's user can read it. Returns the token and
/// whether it was just created — the binary prints a new token once so the operator can open the dashboard.
///
/// An existing file is trusted as it is (surrounding whitespace trimmed), so an operator may put a token of
/// their choosing there; an empty one is an error rather than an open door.
pub fn load_or_create_token(data_dir: &Path) -> io::Result<(String, bool)> {
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return existing_token(&path, &text).map(|token| (token, false)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir_all(data_dir)?;
    let token = generate_token()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(token.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            Ok((token, true))
        }
        // Another process created it between our read and our create: use theirs.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)?;
            existing_token(&path, &text).map(|token| (token, false))
        }
        Err(error) => Err(error),
    }
}

/// A new random token: 32 bytes from the operating system's generator, as 64 lowercase hex digits.
pub fn generate_token() -> io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a token read from a file: non-empty and usable in an HTTP header.
fn existing_token(path: &Path, text: &str) -> io::Result<String> {
    let token = text.trim();
    if let Err(why) = check_token(token) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display())));
    }
    Ok(token.to_owned())
}

/// Whether a token can guard the API: not empty, visible ASCII only (it travels in an HTTP header).
pub(crate) fn check_token(token: &str) -> Result<(), crate::AdminError> {
    if token.is_empty() {
        return Err(crate::AdminError::EmptyToken);
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(crate::AdminError::InvalidToken);
    }
    Ok(())
}

/// The expected token, shared by every request.
#[derive(Clone)]
pub(crate) struct Token(pub(crate) Arc<str>);

impl Token {
    /// Whether an `Authorization` header value carries this token (`Bearer <token>`, scheme in any case).
    /// An empty expected token matches nothing.
    fn admits(&self, authorization: &[u8]) -> bool {
        let Some(presented) = bearer(authorization) else { return false };
        !self.0.is_empty() && bool::from(presented.ct_eq(self.0.as_bytes()))
    }
}

/// The credentials of a `Bearer` authorization header value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Middleware: lets a request through only with the right bearer token; answers 401 otherwise.
pub(crate) async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    let admitted = request.headers().get(header::AUTHORIZATION).is_some_and(|value| token.admits(value.as_bytes()));
    if admitted { next.run(request).await } else { ApiError::unauthorized().into_response() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        let token = Token(Arc::from("abc123"));
        assert!(token.admits(b"Bearer abc123"));
        assert!(token.admits(b"bearer abc123"));
        assert!(token.admits(b"BEARER   abc123  "));
        assert!(!token.admits(b"Bearer abc124"));
        assert!(!token.admits(b"Bearer abc1234"));
        assert!(!token.admits(b"Bearer "));
        assert!(!token.admits(b"Bearerabc123"));
        assert!(!token.admits(b"Basic abc123"));
        assert!(!token.admits(b"abc123"));
        assert!(!token.admits(b""));
    }

    #[test]
    fn empty_expected_token_admits_nothing() {
        let token = Token(Arc::from(""));
        assert!(!token.admits(b"Bearer "));
        assert!(!token.admits(b"Bearer"));
    }

    #[test]
    fn token_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested").join("data");
        let (first, created) = load_or_create_token(&data).unwrap();
        assert!(created);
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        let (second, created) = load_or_create_token(&data).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join(TOKEN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn operator_chosen_token_is_used_and_empty_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE), "  my-secret\n").unwrap();
        assert_eq!(load_or_create_token(dir.path()).unwrap(), ("my-secret".to_owned(), false));
        std::fs::write(dir.path().join(TOKEN_FILE), "\n").unwrap();
        let error = load_or_create_token(dir.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn generated_tokens_differ() {
        assert_ne!(generate_token().unwrap(), generate_token().unwrap());
    }
}
