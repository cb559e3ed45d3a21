//! The settings file of `wangge serve`: TOML whose keys are the long names of the serve flags in
//! snake_case (`bind`, `database`, `token_ttl`, …; `wangge.example.toml` lists them all).
//!
//! Each setting comes from, in rising precedence: its built-in default, the file, its environment
//! variable, its flag. The file's values become the defaults of the command line's arguments
//! ([`ServeFile::apply`]), so that clap's own order (default < environment < flag) does the rest
//! and every value, wherever it comes from, goes through the same parser and range check.

use clap::Command;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Every key the file may hold: the ids of the `serve` arguments it can set.
pub const KEYS: [&str; 21] = [
    "bind",
    "database",
    "demo",
    "demo_diary",
    "web_root",
    "basemap_url",
    "basemap_crs",
    "basemap_attribution",
    "token_ttl",
    "max_feature_vertices",
    "max_request_vertices",
    "trust_proxy",
    "visit_interval",
    "default_visit_days",
    "open311_key",
    "open311_require_key",
    "open311_posts_per_minute",
    "holiday",
    "workday",
    "webhook",
    "webhook_secret",
];

/// The settings a file gives; a key it leaves out keeps the default (or what the environment or
/// a flag says).
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Address to listen on, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub bind: Option<String>,
    /// The database URL: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (PostGIS).
    pub database: Option<String>,
    /// Load the demo street (Zhuhai Road, Shinan, Qingdao) if the store is empty.
    pub demo: Option<bool>,
    /// As `demo`, and invent a year of visits by demo cadres if the store holds none.
    pub demo_diary: Option<bool>,
    /// The web map's folder (`index.html`, `src/`, `node_modules/`).
    pub web_root: Option<PathBuf>,
    /// An external raster basemap under our layers: a tile URL template with `{z}`, `{x}` and `{y}`.
    pub basemap_url: Option<String>,
    /// The basemap's coordinate system: `wgs84` (also CGCS2000, e.g. Tianditu) or `gcj02` (AMap, Tencent).
    pub basemap_crs: Option<String>,
    /// Attribution text shown for the basemap.
    pub basemap_attribution: Option<String>,
    /// How long a login's bearer token stays valid, in seconds (1 to 31536000).
    pub token_ttl: Option<i64>,
    /// The most vertices one feature (or split line) may have.
    pub max_feature_vertices: Option<u64>,
    /// The most vertices the geometries of one request may have together.
    pub max_request_vertices: Option<u64>,
    /// IP addresses of the reverse proxies that may set `X-Forwarded-For`, `-Host` and `-Proto`.
    pub trust_proxy: Option<Vec<String>>,
    /// How often a household with a tag is visited: `["elderly_alone=7", "disabled=14"]`; the
    /// tags households may carry.
    pub visit_interval: Option<Vec<String>>,
    /// Days between visits of a household without a listed tag.
    pub default_visit_days: Option<u32>,
    /// Apps that may post Open311 reports with a key, `["wechat=KEY"]`; their reports are not
    /// rate-limited by address.
    pub open311_key: Option<Vec<String>>,
    /// Take Open311 reports only from the apps with a key.
    pub open311_require_key: Option<bool>,
    /// Anonymous Open311 reports let through per client address and minute.
    pub open311_posts_per_minute: Option<u32>,
    /// Public holidays beyond the built-in 2026, `["2027-01-01", "2027-02-06..2027-02-12"]`.
    pub holiday: Option<Vec<String>>,
    /// Weekend days worked to make up for holidays, `["2027-02-14"]`.
    pub workday: Option<Vec<String>>,
    /// Webhooks, `["repair=http://10.0.0.7/wangge", "*=http://10.0.0.8/all"]`.
    pub webhook: Option<Vec<String>>,
    /// The secret webhooks are signed with.
    pub webhook_secret: Option<String>,
}

/// A settings file that cannot be used; the sentence names the file and, when there is one, the
/// key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the settings file {}", path.display())]
    /// The file cannot be read (missing, unreadable).
    Read {
        /// The settings file.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key or a value of the wrong type.
    #[error("in the settings file {}: {message}", path.display())]
    Parse {
        /// The settings file.
        path: PathBuf,
        /// What the TOML parser says is wrong.
        message: String,
    },
    /// A value of the right type that the setting refuses (a port out of range, a CRS we do not
    /// know, …).
    #[error("in the settings file {}: {key} = {value:?}: {message}", path.display())]
    Invalid {
        /// The settings file.
        path: PathBuf,
        /// The key whose value is refused.
        key: &'static str,
        /// The value as written in the file.
        value: String,
        /// Why the setting refuses it.
        message: String,
    },
}

impl ServeFile {
    /// Reads and parses the file at `path`; a missing file is an error.
    pub fn load(path: &Path) -> Result<ServeFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ServeFile::parse(&text, path)
    }

    /// Parses the text of a file; `path` is only for the error messages.
    pub fn parse(text: &str, path: &Path) -> Result<ServeFile, ConfigError> {
        let error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| error(e.to_string()))?;
        // The path to the value makes a wrong type name its key, not only its line.
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner().to_string();
            match key.as_str() {
                "." => error(inner),
                _ => error(format!("{key}: {inner}")),
            }
        })
    }

    /// The settings the file gives, as argument id and values in the text clap reads.
    fn values(&self) -> Vec<(&'static str, Vec<String>)> {
        let one = |key: &'static str, v: Option<String>| v.map(|v| (key, vec![v]));
        [
            one("bind", self.bind.clone()),
            one("database", self.database.clone()),
            one("demo", self.demo.map(|v| v.to_string())),
            one("demo_diary", self.demo_diary.map(|v| v.to_string())),
            one(
                "web_root",
                self.web_root
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned()),
            ),
            one("basemap_url", self.basemap_url.clone()),
            one("basemap_crs", self.basemap_crs.clone()),
            one("basemap_attribution", self.basemap_attribution.clone()),
            one("token_ttl", self.token_ttl.map(|v| v.to_string())),
            one(
                "max_feature_vertices",
                self.max_feature_vertices.map(|v| v.to_string()),
            ),
            one(
                "max_request_vertices",
                self.max_request_vertices.map(|v| v.to_string()),
            ),
            self.trust_proxy.clone().map(|v| ("trust_proxy", v)),
            self.visit_interval.clone().map(|v| ("visit_interval", v)),
            one(
                "default_visit_days",
                self.default_visit_days.map(|v| v.to_string()),
            ),
            self.open311_key.clone().map(|v| ("open311_key", v)),
            one(
                "open311_require_key",
                self.open311_require_key.map(|v| v.to_string()),
            ),
            one(
                "open311_posts_per_minute",
                self.open311_posts_per_minute.map(|v| v.to_string()),
            ),
            self.holiday.clone().map(|v| ("holiday", v)),
            self.workday.clone().map(|v| ("workday", v)),
            self.webhook.clone().map(|v| ("webhook", v)),
            one("webhook_secret", self.webhook_secret.clone()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Makes the file's values the defaults of `serve`'s arguments (the `serve` command itself,
    /// not the whole command line), after checking each with the argument's own parser so that
    /// a bad value is reported as the file's, with its key. An environment variable or a flag
    /// still wins over them.
    ///
    /// # Panics
    /// If the command has no argument of a key's id: the file and the flags went out of step.
    pub fn apply(&self, serve: Command, path: &Path) -> Result<Command, ConfigError> {
        let values = self.values();
        for (key, texts) in &values {
            let arg = serve
                .get_arguments()
                .find(|a| a.get_id() == *key)
                .unwrap_or_else(|| panic!("`serve` has no argument for the file's key {key}"));
            let Some(long) = arg.get_long().filter(|_| arg.get_action().takes_values()) else {
                continue; // a switch: the file's boolean is all it can say
            };
            // The argument alone, given the value as its flag: the same parser and checks.
            let probe = Command::new("probe")
                .no_binary_name(true)
                .arg(arg.clone().required(false));
            for text in texts {
                if let Err(e) = probe
                    .clone()
                    .try_get_matches_from([format!("--{long}={text}")])
                {
                    let message = std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| e.kind().to_string());
                    return Err(ConfigError::Invalid {
                        path: path.to_owned(),
                        key,
                        value: text.clone(),
                        message,
                    });
                }
            }
        }
        Ok(values.into_iter().fold(serve, |cmd, (key, texts)| {
            cmd.mut_arg(key, |arg| arg.default_values(texts))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, value_parser};

    /// The shape of `serve` for two settings: a text and a number with a range, each with a
    /// default and an environment variable no one sets, plus a switch.
    fn serve() -> Command {
        Command::new("serve")
            .arg(
                Arg::new("bind")
                    .long("bind")
                    .env("WANGGE_CONFIG_TEST_UNSET_BIND")
                    .default_value("127.0.0.1:8080"),
            )
            .arg(
                Arg::new("token_ttl")
                    .long("token-ttl")
                    .env("WANGGE_CONFIG_TEST_UNSET_TTL")
                    .default_value("43200")
                    .value_parser(value_parser!(i64).range(1..=100_000)),
            )
            .arg(Arg::new("demo").long("demo").action(ArgAction::SetTrue))
    }

    fn file(text: &str) -> ServeFile {
        ServeFile::parse(text, Path::new("test.toml")).unwrap()
    }

    fn resolve(file: &ServeFile, args: &[&str]) -> (String, i64, bool) {
        let cmd = file.apply(serve(), Path::new("test.toml")).unwrap();
        let m = cmd
            .try_get_matches_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap();
        (
            m.get_one::<String>("bind").unwrap().clone(),
            *m.get_one::<i64>("token_ttl").unwrap(),
            m.get_flag("demo"),
        )
    }

    #[test]
    fn without_a_file_the_defaults_hold() {
        assert_eq!(
            resolve(&ServeFile::default(), &[]),
            ("127.0.0.1:8080".into(), 43200, false)
        );
    }

    #[test]
    fn the_file_beats_the_default() {
        let f = file("bind = \"0.0.0.0:9000\"\ntoken_ttl = 60\ndemo = true\n");
        assert_eq!(resolve(&f, &[]), ("0.0.0.0:9000".into(), 60, true));
    }

    #[test]
    fn a_flag_beats_the_file() {
        let f = file("bind = \"0.0.0.0:9000\"\ntoken_ttl = 60\n");
        assert_eq!(
            resolve(&f, &["--bind", "127.0.0.1:1", "--token-ttl", "7"]),
            ("127.0.0.1:1".into(), 7, false)
        );
        // A key the file leaves out keeps its default.
        assert_eq!(
            resolve(&f, &["--bind", "127.0.0.1:1"]),
            ("127.0.0.1:1".into(), 60, false)
        );
    }

    #[test]
    fn the_file_sets_defaults_so_the_environment_keeps_its_place_above_it() {
        // Environment variables are set for the process (unsafe in this edition, forbidden
        // here); tests/it/config.rs checks them through the real binary. What they rely on is
        // that the file's value is what clap takes for the default.
        let f = file("bind = \"0.0.0.0:9000\"\n");
        let cmd = f.apply(serve(), Path::new("test.toml")).unwrap();
        let m = cmd.try_get_matches_from(["serve"]).unwrap();
        assert_eq!(
            m.value_source("bind"),
            Some(clap::parser::ValueSource::DefaultValue)
        );
    }

    fn error(text: &str) -> String {
        let path = Path::new("/etc/wangge.toml");
        match ServeFile::parse(text, path) {
            Err(e) => e.to_string(),
            Ok(f) => f.apply(serve(), path).unwrap_err().to_string(),
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_file() {
        let e = error("bind = \"127.0.0.1:1\"\ncolour = \"red\"\n");
        assert!(e.contains("/etc/wangge.toml"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let e = error("token_ttl = \"an hour\"\n");
        assert!(e.contains("/etc/wangge.toml"), "{e}");
        assert!(e.contains("token_ttl"), "{e}");
        let e = error("max_feature_vertices = -1\n");
        assert!(e.contains("max_feature_vertices"), "{e}");
    }

    #[test]
    fn a_value_the_setting_refuses_names_its_key_and_the_reason() {
        let e = error("token_ttl = 0\n");
        assert!(e.contains("/etc/wangge.toml"), "{e}");
        assert!(e.contains("token_ttl = \"0\""), "{e}");
        assert!(e.contains("1..=100000"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused() {
        let e = error("bind = \n");
        assert!(e.contains("/etc/wangge.toml"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let e = ServeFile::load(Path::new("/nonexistent/wangge.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/wangge.toml"), "{e}");
    }

    #[test]
    fn every_field_has_its_key() {
        let all = ServeFile {
            bind: Some(String::new()),
            database: Some(String::new()),
            demo: Some(true),
            demo_diary: Some(true),
            web_root: Some(PathBuf::new()),
            basemap_url: Some(String::new()),
            basemap_crs: Some(String::new()),
            basemap_attribution: Some(String::new()),
            token_ttl: Some(1),
            max_feature_vertices: Some(1),
            max_request_vertices: Some(1),
            trust_proxy: Some(vec![]),
            visit_interval: Some(vec![]),
            default_visit_days: Some(1),
            open311_key: Some(vec![]),
            open311_require_key: Some(false),
            open311_posts_per_minute: Some(1),
            holiday: Some(vec![]),
            workday: Some(vec![]),
            webhook: Some(vec![]),
            webhook_secret: Some(String::new()),
        };
        let keys: Vec<&str> = all.values().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, KEYS);
    }
}
