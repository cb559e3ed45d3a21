//! Accounts and the trace (留痕): roles, argon2 password hashes, bearer tokens and audit records.
//!
//! A bearer token is 32 bytes from the operating system's random source, given to the client in
//! hex and stored only as its SHA-256, so that a copy of the database lets nobody log in. Tokens
//! expire after a lifetime the operator sets (`wangge serve --token-ttl`, by default
//! [`TOKEN_LIFETIME_SECS`]) and can be revoked (logout).

pub mod throttle;

use crate::model::{Holder, Id};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// How long a token lives unless configured otherwise: 12 hours.
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 60 * 60;

/// The longest login name, in characters: room for a pinyin name with a number or an e-mail
/// style name, and small enough that the throttle's tables stay small whatever names are sent.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest password, in bytes. argon2 takes any length, but its work grows with it; no
/// person types more than this.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// `Err(message)` unless `name` is a login name of at most [`MAX_NAME_CHARS`] characters.
/// Checked before a name is stored, looked up or counted by the login throttle.
pub fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        Err(format!(
            "a login name has at most {MAX_NAME_CHARS} characters; this one has {chars}"
        ))
    } else {
        Ok(())
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages accounts and reads the trace.
    Admin,
    /// Draws and edits grids and areas.
    Planner,
    /// A grid worker (网格员) or street cadre.
    Cadre,
    /// A community secretary (书记).
    Secretary,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Planner, Role::Cadre, Role::Secretary];

    /// The name stored in the database and used in the API (`"cadre"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Planner => "planner",
            Role::Cadre => "cadre",
            Role::Secretary => "secretary",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; use admin, planner, cadre or secretary"))
    }
}

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The account's database id.
    pub id: Id,
    /// The login name.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// The name people know them by (张伟), shown to residents for an area's holder.
    pub display_name: Option<String>,
    /// A contact number, shown to residents for an area's holder.
    pub phone: Option<String>,
    /// The community a secretary answers for: they see the households in its grids.
    pub community_id: Option<Id>,
    /// The party branch a secretary is bound to (in that community): they manage its members
    /// and activities and see the households of its grids only.
    pub branch_id: Option<Id>,
}

impl From<&User> for Holder {
    fn from(user: &User) -> Self {
        Holder {
            id: user.id,
            name: user.name.clone(),
            display_name: user.display_name.clone(),
            phone: user.phone.clone(),
        }
    }
}

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The login name.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// An argon2 PHC string from [`hash_password`].
    pub password_hash: String,
    /// The name people know the user by (张伟), if given.
    pub display_name: Option<String>,
    /// A contact number, if given.
    pub phone: Option<String>,
    /// The community a secretary answers for, if given.
    pub community_id: Option<Id>,
    /// The branch a secretary is bound to, if given (then `community_id` is its community).
    pub branch_id: Option<Id>,
}

/// An account with its argon2 PHC string, as the store keeps it.
#[derive(Debug, Clone)]
pub struct StoredUser {
    /// The account.
    pub user: User,
    /// Its password as an argon2 PHC string.
    pub password_hash: String,
}

/// One record of the trace to append. `user_id` `None` means the operator at the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// Who acted; `None` is the operator at the command line.
    pub user_id: Option<Id>,
    /// What was done, e.g. `login`, `create`, `claim`, `release`.
    pub action: String,
    /// The kind of thing it was done to, e.g. `user`, `area`.
    pub entity: String,
    /// The id of the thing it was done to, if it has one.
    pub entity_id: Option<Id>,
    /// The thing as JSON before the action; `None` if it did not exist.
    pub before: Option<serde_json::Value>,
    /// The thing as JSON after the action; `None` if it no longer exists.
    pub after: Option<serde_json::Value>,
}

/// One stored record of the trace; `at` is RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// The record's database id; grows with every record.
    pub id: Id,
    /// When it was recorded, RFC 3339 in UTC.
    pub at: String,
    /// Who acted; `None` is the operator at the command line.
    pub user_id: Option<Id>,
    /// What was done, e.g. `login`, `create`, `claim`, `release`.
    pub action: String,
    /// The kind of thing it was done to, e.g. `user`, `area`.
    pub entity: String,
    /// The id of the thing it was done to, if it has one.
    pub entity_id: Option<Id>,
    /// The thing as JSON before the action; `None` if it did not exist.
    pub before: Option<serde_json::Value>,
    /// The thing as JSON after the action; `None` if it no longer exists.
    pub after: Option<serde_json::Value>,
}

/// Hashes a password with argon2id and a fresh random salt into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a stored PHC string. A malformed stored hash matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh bearer token (64 hex digits) and the hash under which the store keeps it.
pub fn new_token() -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("the OS random source failed: {e}"))?;
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The hex SHA-256 of a bearer token: what the store keeps and looks up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix seconds as an RFC 3339 UTC timestamp (`2026-11-28T08:00:00Z`); kept here for the
/// callers that format token expiries.
pub use crate::timestamp::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn names_are_limited_in_characters_not_bytes() {
        assert!(check_name(&"网".repeat(MAX_NAME_CHARS)).is_ok());
        let err = check_name(&"a".repeat(MAX_NAME_CHARS + 1)).unwrap_err();
        assert!(err.contains("65"), "{err}");
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash_a, token_hash(&a));
        assert_ne!(hash_a, a);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_852_800 + 3661), "2026-11-28T09:01:01Z");
    }

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
