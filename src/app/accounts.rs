//! Accounts as use cases: logging in and out, knowing who a token belongs to, creating users,
//! and reading the trace. The rules of a login live here, in the order that makes a refused
//! attempt cost nothing: lengths, then the throttle, then the store and the slow hash.

use super::App;
use crate::auth::throttle::LoginThrottle;
use crate::auth::{self, AuditRecord, NewAudit, NewUser, Role, User};
use crate::model::{Id, PlaceKind};
use crate::store::StoreError;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Why a login or an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a name has at most {} characters", auth::MAX_NAME_CHARS)]
    /// The login name is longer than [`auth::MAX_NAME_CHARS`] characters.
    NameTooLong,
    #[error("a password has at most {} bytes", auth::MAX_PASSWORD_BYTES)]
    /// The password is longer than [`auth::MAX_PASSWORD_BYTES`] bytes.
    PasswordTooLong,
    #[error("there is no community with code {0:?}")]
    /// The community named for a secretary does not exist.
    NoSuchCommunity(String),
    #[error("there is no branch with code {0:?}")]
    /// The branch named for a secretary does not exist.
    NoSuchBranch(String),
    #[error("only a secretary is bound to a branch, not a {0}")]
    /// A branch was named for an account of another role.
    BranchForNonSecretary(Role),
    #[error("the name is empty")]
    /// An account to create has an empty (or blank) name.
    EmptyName,
    #[error(
        "the password is empty: give it on the first line of standard input or --password-file"
    )]
    /// An account to create has an empty password.
    EmptyPassword,
    /// Too many attempts for this name; the next one is let through after `retry_after`.
    #[error("too many login attempts for this name; try again in {} s", retry_secs(*retry_after))]
    Throttled {
        /// How long to wait before the next attempt is let through.
        retry_after: Duration,
    },
    /// The name is unknown or the password wrong (which of the two is not said).
    #[error("wrong name or password")]
    BadCredentials,
    #[error(transparent)]
    /// The store failed while checking or writing the account.
    Store(#[from] StoreError),
    /// Hashing or the random source failed; details for the log.
    #[error("{0}")]
    Internal(String),
}

/// Whole seconds to wait, rounded up: a client that waits this long is let through.
pub fn retry_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// A successful login: the bearer token (shown once, stored only as its hash) and its owner.
#[derive(Debug)]
pub struct Session {
    /// The bearer token for the `Authorization` header, in clear; shown once.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The account that logged in.
    pub user: User,
}

/// An account to create, with its password in clear (hashed here, never stored).
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The login name.
    pub name: String,
    /// What the account may do (admin, planner, cadre, secretary).
    pub role: Role,
    /// The password in clear, at most [`auth::MAX_PASSWORD_BYTES`] bytes; hashed with argon2id before it is stored.
    pub password: String,
    /// The name people know the user by (张伟), shown to residents for an area's holder.
    pub display_name: Option<String>,
    /// A contact number, shown to residents for an area's holder.
    pub phone: Option<String>,
    /// The code of the community a secretary answers for.
    pub community: Option<String>,
    /// The code of the party branch a secretary is bound to (its community then comes with it).
    pub branch: Option<String>,
}

/// What logins share within one process: the throttle and the password checks in flight.
pub(super) struct Logins {
    throttle: LoginThrottle,
    /// At most one argon2 check per core at a time: each takes a core and 19 MiB, so unbounded
    /// checks would let a flood of logins starve the other requests and run the server out of
    /// memory. Others wait their turn.
    checks: tokio::sync::Semaphore,
}

impl Default for Logins {
    fn default() -> Self {
        Logins {
            throttle: LoginThrottle::default(),
            checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
        }
    }
}

impl App {
    /// Logs `name` in from `client` with a token valid for `ttl_secs`. In this order, so that
    /// refused attempts cost nothing: the name's and password's lengths, then the throttle
    /// reserves the attempt (see [`crate::auth::throttle`]), and only then the store is asked
    /// and the password hashed. Each login also clears out the tokens nobody can use any more,
    /// so the table stays as small as the number of live sessions without a background job.
    pub async fn login(
        &self,
        name: &str,
        password: String,
        client: IpAddr,
        ttl_secs: i64,
    ) -> Result<Session, AccountError> {
        auth::check_name(name).map_err(|_| AccountError::NameTooLong)?;
        if password.len() > auth::MAX_PASSWORD_BYTES {
            return Err(AccountError::PasswordTooLong);
        }
        let throttle = &self.logins.throttle;
        throttle
            .attempt(name, client, Instant::now())
            .map_err(|retry_after| AccountError::Throttled { retry_after })?;
        let stored = self.store.user_by_name(name).await?;
        let hash = stored.as_ref().map(|s| s.password_hash.clone());
        let user = match stored {
            // The reserved attempt stays counted as a failure.
            Some(stored) if self.password_matches(password, hash).await? => stored.user,
            _ => return Err(AccountError::BadCredentials),
        };
        throttle.succeeded(name, client);
        let (token, token_hash) = auth::new_token().map_err(AccountError::Internal)?;
        let now = auth::now_unix();
        let expires_at = now + ttl_secs;
        self.store
            .create_token(&token_hash, user.id, expires_at)
            .await?;
        self.store.forget_dead_tokens(now).await?;
        self.store.append_audit(&user_event(&user, "login")).await?;
        Ok(Session {
            token,
            expires_at,
            user,
        })
    }

    /// Checks a password off the async threads (argon2 is deliberately slow), one check per core
    /// at a time. An unknown name (`stored` `None`) still costs one check, so that timing does
    /// not tell names apart.
    async fn password_matches(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, AccountError> {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let _permit = self
            .logins
            .checks
            .acquire()
            .await
            .map_err(|e| AccountError::Internal(format!("password check queue closed: {e}")))?;
        // The permit is held until the hash is done, even if the client went away: the
        // blocking task runs on.
        let check = tokio::task::spawn_blocking(move || {
            let (hash, known) = match stored {
                Some(hash) => (hash, true),
                None => (
                    DUMMY
                        .get_or_init(|| auth::hash_password("no such user").unwrap_or_default())
                        .clone(),
                    false,
                ),
            };
            known & auth::verify_password(&password, &hash)
        });
        check
            .await
            .map_err(|e| AccountError::Internal(format!("password check failed: {e}")))
    }

    /// Revokes a token of `user` (given as its hash) and records the logout.
    pub async fn logout(&self, user: &User, token_hash: &str) -> Result<(), AccountError> {
        self.store
            .revoke_token(token_hash, auth::now_unix())
            .await?;
        self.store.append_audit(&user_event(user, "logout")).await?;
        Ok(())
    }

    /// The owner of a bearer token that exists, is not revoked and has not expired.
    pub async fn token_user(&self, token: &str) -> Result<Option<User>, StoreError> {
        self.store
            .token_user(&auth::token_hash(token), auth::now_unix())
            .await
    }

    /// The account of a token known by its hash, while it is valid: for a long-lived stream
    /// that checks now and then that its login still holds.
    pub async fn token_hash_user(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        self.store.token_user(token_hash, auth::now_unix()).await
    }

    /// The account with this login name, if any.
    pub async fn user_named(&self, name: &str) -> Result<Option<User>, StoreError> {
        Ok(self.store.user_by_name(name).await?.map(|s| s.user))
    }

    /// Creates an account, hashing its password, with an audit record naming `by` (`None`: the
    /// operator at the command line). The record keeps the name, role and contact details,
    /// never the hash.
    pub async fn create_user(
        &self,
        account: NewAccount,
        by: Option<Id>,
    ) -> Result<User, AccountError> {
        if account.name.trim().is_empty() {
            return Err(AccountError::EmptyName);
        }
        auth::check_name(&account.name).map_err(|_| AccountError::NameTooLong)?;
        if account.password.is_empty() {
            return Err(AccountError::EmptyPassword);
        }
        if account.password.len() > auth::MAX_PASSWORD_BYTES {
            return Err(AccountError::PasswordTooLong);
        }
        let branch = match &account.branch {
            None => None,
            Some(_) if account.role != Role::Secretary => {
                return Err(AccountError::BranchForNonSecretary(account.role));
            }
            Some(code) => Some(
                self.map_data()
                    .branches
                    .iter()
                    .find(|b| &b.code == code)
                    .cloned()
                    .ok_or_else(|| AccountError::NoSuchBranch(code.clone()))?,
            ),
        };
        let community_id = match &account.community {
            None => None,
            Some(code) => Some(
                self.map_data()
                    .places
                    .iter()
                    .find(|p| p.kind == PlaceKind::Community && &p.code == code)
                    .map(|p| p.id)
                    .ok_or_else(|| AccountError::NoSuchCommunity(code.clone()))?,
            ),
        };
        let password = account.password;
        let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| AccountError::Internal(format!("hashing failed: {e}")))?
            .map_err(AccountError::Internal)?;
        let user = self
            .store
            .insert_user(&NewUser {
                name: account.name,
                role: account.role,
                password_hash: hash,
                display_name: account.display_name,
                phone: account.phone,
                // A branch's secretary answers for its community too (its requests, its feed).
                community_id: branch.as_ref().map(|b| b.community_id).or(community_id),
                branch_id: branch.as_ref().map(|b| b.id),
            })
            .await?;
        self.store
            .append_audit(&NewAudit {
                user_id: by,
                action: "create".into(),
                entity: "user".into(),
                entity_id: Some(user.id),
                before: None,
                after: Some(serde_json::json!({
                    "id": user.id,
                    "name": user.name,
                    "role": user.role,
                    "display_name": user.display_name,
                    "phone": user.phone,
                    "community_id": user.community_id,
                    "branch_id": user.branch_id,
                })),
            })
            .await?;
        Ok(user)
    }

    /// The trace of an entity (of one of its rows if `entity_id` is given), oldest first.
    pub async fn audit_trail(
        &self,
        entity: &str,
        entity_id: Option<Id>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit(entity, entity_id).await
    }
}

/// A trace record of something a user did to their own account.
fn user_event(user: &User, action: &str) -> NewAudit {
    NewAudit {
        user_id: Some(user.id),
        action: action.into(),
        entity: "user".into(),
        entity_id: Some(user.id),
        before: None,
        after: None,
    }
}
