//! Webhooks: each report, step and escalation of a request of a category is posted as JSON to
//! the URLs configured for it (`wangge serve --webhook CATEGORY=URL`, `*` for every category),
//! signed with HMAC-SHA256 of the body under `--webhook-secret` in `X-Wangge-Signature:
//! sha256=HEX`. A delivery that fails (no answer, or not 2xx) is tried again after 1, 2, 4, …
//! seconds, [`ATTEMPTS`] times in all; each hook's deliveries and failures, with the last error,
//! are what `GET /api/v1/webhooks` shows.
//!
//! Only the writes of this instance are sent from it (another instance sends its own), and the
//! body is the request's public form plus its ids: no reporter, no household.

use crate::app::{App, NoticeKind, RequestNotice};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Tries of one delivery, the first included.
pub const ATTEMPTS: u32 = 5;
/// How long one try may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One configured hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The category it is for; `None` for every category (`*`).
    pub category: Option<String>,
    /// Where to post, `http://…`.
    pub url: String,
}

impl Hook {
    /// Reads `CATEGORY=URL` (`*=URL` for every category); the URL must be `http://` (put a
    /// TLS-terminating proxy in front of an `https` receiver).
    ///
    /// ```
    /// use wangge::webhooks::Hook;
    /// let hook = Hook::parse("repair=http://10.0.0.7/wangge").unwrap();
    /// assert_eq!(hook.category.as_deref(), Some("repair"));
    /// assert_eq!(Hook::parse("*=http://10.0.0.7/all").unwrap().category, None);
    /// assert!(Hook::parse("repair").is_err());
    /// assert!(Hook::parse("graffiti=http://x/").is_err());
    /// assert!(Hook::parse("repair=ftp://x/").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Hook, String> {
        let (category, url) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not CATEGORY=URL"))?;
        let category = match category.trim() {
            "*" => None,
            code if crate::model::requests::category(code).is_some() => Some(code.to_string()),
            code => return Err(format!("there is no category {code:?}")),
        };
        let url = url.trim();
        if !url.starts_with("http://") || url.len() <= "http://".len() {
            return Err(format!("{url:?} is not an http:// URL"));
        }
        Ok(Hook {
            category,
            url: url.to_string(),
        })
    }

    fn wants(&self, category: &str) -> bool {
        self.category.as_deref().is_none_or(|c| c == category)
    }
}

/// How one hook has fared on this instance since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HookStatus {
    /// Its category, `*` for all.
    pub category: String,
    /// Where it posts.
    pub url: String,
    /// Deliveries the receiver took (2xx).
    pub delivered: u64,
    /// Tries that failed, retried ones included.
    pub failed_attempts: u64,
    /// Deliveries given up after [`ATTEMPTS`] tries.
    pub given_up: u64,
    /// The last failure: an HTTP status or why there was none.
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<String>,
}

/// The configured hooks, the secret they sign with and how they fare.
#[derive(Debug)]
pub struct Webhooks {
    hooks: Vec<Hook>,
    secret: String,
    status: Mutex<Vec<HookStatus>>,
    client: reqwest::Client,
}

impl Webhooks {
    /// Hooks that sign with `secret`.
    pub fn new(hooks: Vec<Hook>, secret: String) -> Webhooks {
        let status = hooks
            .iter()
            .map(|h| HookStatus {
                category: h.category.clone().unwrap_or_else(|| "*".into()),
                url: h.url.clone(),
                ..HookStatus::default()
            })
            .collect();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Webhooks {
            hooks,
            secret,
            status: Mutex::new(status),
            client,
        }
    }

    /// How each hook has fared.
    pub fn status(&self) -> Vec<HookStatus> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HookStatus>> {
        // Counters only: whole after a panic elsewhere.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under the secret.
    ///
    /// ```
    /// use wangge::webhooks::Webhooks;
    /// // RFC 4231's test case 2.
    /// let hooks = Webhooks::new(vec![], "Jefe".into());
    /// assert_eq!(
    ///     hooks.signature(b"what do ya want for nothing?"),
    ///     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    /// );
    /// ```
    pub fn signature(&self, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Sends every notice of this instance's writes to the hooks that want it, until the App
    /// is dropped; deliveries run side by side, each retried on its own.
    pub fn start(self: &Arc<Self>, app: &Arc<App>) {
        if self.hooks.is_empty() {
            return;
        }
        let (mut notices, _) = app.request_notices();
        let app: Weak<App> = Arc::downgrade(app);
        let hooks = self.clone();
        tokio::spawn(async move {
            loop {
                let notice = match notices.recv().await {
                    Ok(notice) => notice,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "webhooks fell behind; notices were not sent");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let Some(app) = app.upgrade() else { return };
                if !notice.here {
                    continue;
                }
                let body = body_of(&app, &notice).to_string();
                for (index, hook) in hooks.hooks.iter().enumerate() {
                    if hook.wants(&notice.request.category) {
                        tokio::spawn(hooks.clone().deliver(index, body.clone()));
                    }
                }
            }
        });
    }

    async fn deliver(self: Arc<Self>, index: usize, body: String) {
        let url = &self.hooks[index].url;
        let signature = self.signature(body.as_bytes());
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .client
                .post(url)
                .header("Content-Type", "application/json")
                .header("X-Wangge-Signature", &signature)
                .body(body.clone())
                .send()
                .await;
            let failure = match sent {
                Ok(r) if r.status().is_success() => {
                    self.lock()[index].delivered += 1;
                    return;
                }
                Ok(r) => format!("answered {}", r.status()),
                Err(e) => format!("no answer: {e}"),
            };
            {
                let mut status = self.lock();
                let hook = &mut status[index];
                hook.failed_attempts += 1;
                hook.last_error = Some(failure.clone());
                hook.last_error_at = Some(crate::timestamp::now());
                if attempt == ATTEMPTS {
                    hook.given_up += 1;
                }
            }
            tracing::warn!(url, attempt, error = %failure, "a webhook delivery failed");
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
            }
        }
    }
}

/// What a hook receives: what happened, and the request in its public form with its ids.
fn body_of(app: &App, notice: &RequestNotice) -> Value {
    let r = &notice.request;
    json!({
        "event": match notice.kind {
            NoticeKind::Reported => "reported",
            NoticeKind::Stepped => "stepped",
            NoticeKind::Escalated => "escalated",
        },
        "request": {
            "id": r.id,
            "category": r.category,
            "state": r.state,
            "fixed": r.fixed,
            "lon": r.lon,
            "lat": r.lat,
            "address": r.address,
            "description": r.description,
            "agency_responsible": app.agency_responsible(r),
            "link": r.link,
            "grid_id": r.spot.grid_id,
            "area_id": r.spot.area_id,
            "community_id": r.spot.community_id,
            "assignee_unit": r.assignee_unit,
            "escalations": r.escalations,
            "requested_at": r.requested_at,
            "updated_at": r.updated_at,
        },
    })
}
