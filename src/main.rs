//! The `wangge` command line: serve, import, export, user. Parses flags and hands over to the library.
//!
//! Settings come from flags, then environment variables (`WANGGE_BIND`, `DATABASE_URL`,
//! `WANGGE_WEB_ROOT`, `WANGGE_BASEMAP_*`, `WANGGE_TOKEN_TTL`, `WANGGE_TRUST_PROXY`), then, for
//! `serve`, the TOML file given with `--config` (`WANGGE_CONFIG`; see `wangge::config`), then
//! defaults; a flag always wins.

use anyhow::{Context, bail};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use wangge::app::{App, NewAccount, VisitPolicy};
use wangge::auth::{self, Role};
use wangge::calendar::{Days, WorkCalendar};
use wangge::geodata::{self, ImportError, LayerData};
use wangge::http::HttpConfig;
use wangge::http::limits::GeometryLimits;
use wangge::http::open311::Open311Config;
use wangge::http::web::{self, Basemap, BasemapCrs, WebConfig};
use wangge::model::Layer;
use wangge::spatial::crs::Crs;
use wangge::store;
use wangge::webhooks::{Hook, Webhooks};

/// The longest token lifetime accepted: a year.
const MAX_TOKEN_TTL_SECS: i64 = 365 * 24 * 60 * 60;

/// The embedded database used when no other is named.
const DEFAULT_DATABASE: &str = "sqlite://data/wangge.db";

#[derive(Parser)]
#[command(
    name = "wangge",
    version,
    about = "网格 wangge: a GIS service for community grid management"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Database {
    /// sqlite://PATH (created on first use) or postgres://USER:PASSWORD@HOST/DB (PostGIS).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
}

/// The web map served at `/`.
#[derive(Args)]
struct WebArgs {
    /// The web map's folder (index.html, src/, glyphs/, node_modules/ from `npm ci --prefix web-map`).
    #[arg(long, env = "WANGGE_WEB_ROOT", default_value = web::DEFAULT_WEB_ROOT)]
    web_root: PathBuf,
    /// An external raster basemap under our layers, as a tile URL template with {z}, {x} and {y}.
    /// None by default: the map then draws only this server's own layers and works offline.
    #[arg(long, env = "WANGGE_BASEMAP_URL")]
    basemap_url: Option<String>,
    /// The basemap's coordinate system: wgs84 (also CGCS2000, e.g. Tianditu) or gcj02 (AMap,
    /// Tencent); with gcj02 the map asks for our tiles and lookups in GCJ-02 to line up with it.
    #[arg(long, env = "WANGGE_BASEMAP_CRS", default_value = "wgs84", value_parser = parse_basemap_crs)]
    basemap_crs: BasemapCrs,
    /// Attribution text shown for the basemap.
    #[arg(long, env = "WANGGE_BASEMAP_ATTRIBUTION")]
    basemap_attribution: Option<String>,
}

impl WebArgs {
    fn config(self) -> anyhow::Result<WebConfig> {
        let basemap = match self.basemap_url.filter(|u| !u.is_empty()) {
            Some(url) => Some(
                Basemap::new(url, self.basemap_crs, self.basemap_attribution)
                    .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        Ok(WebConfig {
            root: self.web_root,
            basemap,
        })
    }
}

fn parse_basemap_crs(s: &str) -> Result<BasemapCrs, String> {
    s.parse()
}

/// How much geometry one request may carry.
#[derive(Args)]
struct LimitArgs {
    /// The most vertices one feature (or split line) may have; more is 422 too_many_vertices.
    #[arg(long, env = "WANGGE_MAX_FEATURE_VERTICES", default_value_t = GeometryLimits::default().feature_vertices,
          value_parser = clap::value_parser!(usize))]
    max_feature_vertices: usize,
    /// The most vertices the geometries of one request may have together; more is 413
    /// too_many_vertices.
    #[arg(long, env = "WANGGE_MAX_REQUEST_VERTICES", default_value_t = GeometryLimits::default().request_vertices,
          value_parser = clap::value_parser!(usize))]
    max_request_vertices: usize,
}

/// Which days are worked, beyond the built-in 2026: the time limits of requests count only those.
#[derive(Args)]
struct CalendarArgs {
    /// A public holiday (放假), DATE or FIRST..LAST (2027-02-06..2027-02-12), added to the
    /// built-in calendar of 2026; repeat the flag or separate with commas.
    #[arg(
        long,
        env = "WANGGE_HOLIDAYS",
        value_name = "DAYS",
        value_delimiter = ','
    )]
    holiday: Vec<Days>,
    /// A weekend day worked to make up for a holiday (调休上班), DATE or FIRST..LAST; repeat the
    /// flag or separate with commas.
    #[arg(
        long,
        env = "WANGGE_WORKDAYS",
        value_name = "DAYS",
        value_delimiter = ','
    )]
    workday: Vec<Days>,
}

/// Where each report, step and escalation of requests is posted.
#[derive(Args)]
struct WebhookArgs {
    /// Post each report, step and escalation of requests of a category to URL, CATEGORY=URL
    /// (`*` for every category; http:// only); repeat the flag or separate with commas.
    #[arg(long, env = "WANGGE_WEBHOOKS", value_name = "CATEGORY=URL", value_delimiter = ',',
          value_parser = Hook::parse)]
    webhook: Vec<Hook>,
    /// The secret the webhooks' bodies are signed with (HMAC-SHA256 in X-Wangge-Signature);
    /// needed when a --webhook is given, at least 16 characters.
    #[arg(long, env = "WANGGE_WEBHOOK_SECRET", value_name = "SECRET")]
    webhook_secret: Option<String>,
}

impl WebhookArgs {
    fn webhooks(self) -> anyhow::Result<Webhooks> {
        let secret = self.webhook_secret.unwrap_or_default();
        if !self.webhook.is_empty() && secret.chars().count() < 16 {
            bail!("--webhook needs a --webhook-secret of at least 16 characters");
        }
        Ok(Webhooks::new(self.webhook, secret))
    }
}

/// Who may post residents' reports over Open311, and how often.
#[derive(Args)]
struct Open311Args {
    /// A registered app and its api_key, APP=KEY (the key at least 16 characters); repeat the
    /// flag or separate with commas for several. Its reports are not rate-limited by address.
    #[arg(long = "open311-key", env = "WANGGE_OPEN311_KEYS", value_name = "APP=KEY",
          value_delimiter = ',', value_parser = Open311Config::parse_key)]
    open311_key: Vec<(String, String)>,
    /// Take reports over Open311 only from registered apps (with an --open311-key's key).
    #[arg(long, env = "WANGGE_OPEN311_REQUIRE_KEY")]
    open311_require_key: bool,
    /// Anonymous Open311 reports let through per client address and minute (also the burst);
    /// more is 429 with Retry-After.
    #[arg(long, env = "WANGGE_OPEN311_POSTS_PER_MINUTE", default_value_t = Open311Config::default().posts_per_minute)]
    open311_posts_per_minute: NonZeroU32,
}

impl Open311Args {
    fn config(self) -> Open311Config {
        Open311Config {
            posts_per_minute: self.open311_posts_per_minute,
            keys: self.open311_key,
            require_key: self.open311_require_key,
        }
    }
}

/// How often households are visited, by tag: what `serve` plans with and `import` checks tags
/// against.
#[derive(Args)]
struct VisitArgs {
    /// How often a household with a tag is visited, TAG=DAYS; repeat the flag (or separate
    /// with commas) for each tag. Given at all, the list replaces the built-in one
    /// (elderly_alone=7, disabled=14, child_left_behind=14, low_income=30, mobile_member=30,
    /// veteran=60, party_member=90); households may carry only the tags listed.
    #[arg(
        long = "visit-interval",
        id = "visit_interval",
        value_name = "TAG=DAYS",
        env = "WANGGE_VISIT_INTERVALS",
        value_delimiter = ','
    )]
    visit_interval: Vec<String>,
    /// Days between visits of a household without a listed tag.
    #[arg(long, env = "WANGGE_DEFAULT_VISIT_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    default_visit_days: u32,
}

impl VisitArgs {
    fn policy(&self) -> anyhow::Result<VisitPolicy> {
        if self.visit_interval.is_empty() {
            return Ok(VisitPolicy {
                default_days: self.default_visit_days,
                ..VisitPolicy::default()
            });
        }
        VisitPolicy::from_pairs(&self.visit_interval, self.default_visit_days)
            .map_err(|e| anyhow::anyhow!("--visit-interval {e}"))
    }
}

/// The settings of `wangge serve` (boxed in [`Command`]: they are many).
#[derive(Args)]
struct ServeArgs {
    /// A TOML file of settings: the long names of these flags in snake_case as keys (bind,
    /// database, token_ttl, trust_proxy = ["10.0.0.1"], …; see wangge.example.toml). An
    /// unknown key is an error. Its values beat the defaults; environment variables and flags
    /// beat it.
    #[arg(long, env = "WANGGE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "WANGGE_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    #[command(flatten)]
    db: Database,
    /// Load the demo street (Zhuhai Road, Shinan, Qingdao) if the store is empty.
    #[arg(long)]
    demo: bool,
    /// As --demo, and invent a year of visits (民情日记) by six demo cadres, who cannot log
    /// in, if the store holds no visit: the statistics and the map show something.
    #[arg(long)]
    demo_diary: bool,
    #[command(flatten)]
    web: WebArgs,
    /// How long a bearer token from a login stays valid, in seconds (1 to 31536000).
    #[arg(long, env = "WANGGE_TOKEN_TTL", default_value_t = auth::TOKEN_LIFETIME_SECS,
          value_parser = clap::value_parser!(i64).range(1..=MAX_TOKEN_TTL_SECS))]
    token_ttl: i64,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    visits: VisitArgs,
    /// The address of a reverse proxy in front of this server (repeat the flag or separate
    /// with commas for several). Only requests from it may set the client address with
    /// X-Forwarded-For and the links' host and scheme with X-Forwarded-Host/-Proto; from
    /// anyone else these headers are ignored. None by default.
    #[arg(
        long = "trust-proxy",
        env = "WANGGE_TRUST_PROXY",
        value_name = "ADDRESS",
        value_delimiter = ','
    )]
    trust_proxy: Vec<IpAddr>,
    #[command(flatten)]
    open311: Open311Args,
    #[command(flatten)]
    calendar: CalendarArgs,
    #[command(flatten)]
    webhooks: WebhookArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    #[command(after_help = SERVE_PRECEDENCE)]
    Serve(Box<ServeArgs>),
    /// Import a GeoJSON FeatureCollection into one layer, all features or none; or households
    /// from a CSV register (a `.csv` file), rows whose building or address matched nothing left
    /// out and listed.
    Import {
        /// The GeoJSON or CSV file.
        file: PathBuf,
        /// districts, streets, communities, grids, areas, buildings or households.
        #[arg(long, value_parser = parse_layer)]
        layer: Layer,
        /// CRS of the file's coordinates: wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn. Default: the
        /// file's own `crs` member, else wgs84.
        #[arg(long, value_parser = parse_crs)]
        crs: Option<Crs>,
        #[command(flatten)]
        db: Database,
        #[command(flatten)]
        visits: VisitArgs,
    },
    /// Export one layer as RFC 7946 GeoJSON.
    Export {
        /// districts, streets, communities, grids, areas, buildings or households.
        #[arg(long, value_parser = parse_layer)]
        layer: Layer,
        /// CRS to write: wgs84 (default), cgcs2000, gcj02, bd09 or EPSG:nnnn.
        #[arg(long, value_parser = parse_crs, default_value = "wgs84")]
        crs: Crs,
        /// File to write; standard output if absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: Database,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is the first line of standard input, or of --password-file.
    Add {
        /// The login name; must be unused.
        #[arg(long)]
        name: String,
        /// admin, planner, cadre or secretary.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The name people know them by (e.g. 张伟), shown to residents for the areas they hold.
        #[arg(long)]
        display_name: Option<String>,
        /// A contact number, shown to residents for the areas they hold.
        #[arg(long)]
        phone: Option<String>,
        /// The code of the community a secretary answers for: they see the households in its
        /// grids.
        #[arg(long)]
        community: Option<String>,
        /// The code of the party branch a secretary is bound to: they manage its members and
        /// activities and see the households of its grids (its community comes with it).
        #[arg(long)]
        branch: Option<String>,
        /// Read the password from the first line of this file instead of standard input.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        db: Database,
    },
}

const SERVE_PRECEDENCE: &str = "Each setting comes from, in rising precedence: its default, the \
     --config file, its environment variable, its flag.";

/// Parses the command line; for `serve --config FILE` (or `WANGGE_CONFIG`), the file's values
/// become the defaults of the serve flags, so that the environment and the flags still win.
fn parse_cli(args: Vec<OsString>) -> anyhow::Result<Cli> {
    let matches = Cli::command().get_matches_from(&args);
    let config = matches
        .subcommand_matches("serve")
        .and_then(|m| m.get_one::<PathBuf>("config"));
    let matches = match config {
        None => matches,
        Some(path) => {
            let file = wangge::config::ServeFile::load(path)?;
            let mut cli = Cli::command();
            let serve = cli.find_subcommand_mut("serve").expect("serve exists");
            *serve = file.apply(std::mem::take(serve), path)?;
            cli.get_matches_from(&args)
        }
    };
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn parse_layer(s: &str) -> Result<Layer, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Layer::ALL.iter().map(|l| l.as_str()).collect();
        format!("unknown layer {s:?}; use one of {}", names.join(", "))
    })
}

fn parse_crs(s: &str) -> Result<Crs, String> {
    Crs::parse(s).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "wangge=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match parse_cli(std::env::args_os().collect())?.command {
        Command::Serve(args) => {
            let ServeArgs {
                config: _,
                bind,
                db,
                demo,
                demo_diary,
                web,
                token_ttl,
                limits,
                visits,
                trust_proxy,
                open311,
                calendar,
                webhooks,
            } = *args;
            let config = HttpConfig {
                web: web.config()?,
                token_ttl_secs: token_ttl,
                limits: GeometryLimits {
                    feature_vertices: limits.max_feature_vertices,
                    request_vertices: limits.max_request_vertices,
                },
                trusted_proxies: wangge::http::client::TrustedProxies(trust_proxy),
                open311: open311.config(),
                webhooks: Arc::new(webhooks.webhooks()?),
            };
            let demo = match (demo, demo_diary) {
                (_, true) => Demo::WithDiary,
                (true, false) => Demo::Street,
                (false, false) => Demo::None,
            };
            let calendar =
                WorkCalendar::china_2026().with_days(&calendar.holiday, &calendar.workday);
            serve(
                &bind,
                &db.database,
                demo,
                visits.policy()?,
                calendar,
                config,
            )
            .await
        }
        Command::Import {
            file,
            layer,
            crs,
            db,
            visits,
        } => import(&file, layer, crs, &db.database, visits.policy()?).await,
        Command::Export {
            layer,
            crs,
            output,
            db,
        } => export(layer, crs, output, &db.database).await,
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    display_name,
                    phone,
                    community,
                    branch,
                    password_file,
                    db,
                },
        } => {
            let profile = Profile {
                display_name,
                phone,
                community,
                branch,
            };
            add_user(&name, role, profile, password_file, &db.database).await
        }
    }
}

async fn open_app(database: &str) -> anyhow::Result<Arc<App>> {
    open_app_with(database, VisitPolicy::default()).await
}

async fn open_app_with(database: &str, policy: VisitPolicy) -> anyhow::Result<Arc<App>> {
    Ok(Arc::new(open_store_app(database, policy).await?))
}

async fn open_store_app(database: &str, policy: VisitPolicy) -> anyhow::Result<App> {
    let store = store::open(database)
        .await
        .with_context(|| format!("opening the database {database}"))?;
    Ok(App::open_with(store, policy).await?)
}

/// What demo data `serve` loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Demo {
    None,
    Street,
    WithDiary,
}

async fn serve(
    bind: &str,
    database: &str,
    demo: Demo,
    policy: VisitPolicy,
    calendar: WorkCalendar,
    config: HttpConfig,
) -> anyhow::Result<()> {
    let app = Arc::new(
        open_store_app(database, policy)
            .await?
            .with_calendar(calendar),
    );
    if demo != Demo::None {
        if app.load_demo_if_empty().await? {
            tracing::info!("demo street loaded");
        } else {
            tracing::info!("the store already holds data; demo not loaded");
        }
    }
    if demo == Demo::WithDiary {
        let visits = app.load_demo_diary().await?;
        tracing::info!(visits, "demo diary loaded");
    }
    if app.follow_store().await? {
        tracing::info!("following changes other writers make to the database");
    }
    app.watch_deadlines();
    config.webhooks.start(&app);
    tokio::spawn(wangge::http::metrics::keep_bounded());
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    // Printed on standard output so that scripts and tests can find a port chosen by the OS.
    println!("wangge listening on http://{}", listener.local_addr()?);
    if let Some(problem) = config.web.problem() {
        tracing::warn!("{problem}; the API works, the page at / explains what to install");
    }
    // With the peer's address, the one client address nobody can forge (see http::client).
    let router = wangge::http::router_with(app.clone(), config);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Event streams never end by themselves; the server waits for every connection.
        app.close_request_notices();
    })
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

async fn import(
    file: &PathBuf,
    layer: Layer,
    crs: Option<Crs>,
    database: &str,
    policy: VisitPolicy,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let app = open_app_with(database, policy).await?;
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (parsed, unmatched) = if is_csv {
        if layer != Layer::Households {
            bail!("a CSV file holds households only: use --layer households");
        }
        // Rows without coordinates are placed in the buildings already stored.
        let buildings = app.map_data().buildings.clone();
        match geodata::households_from_csv(&text, crs.unwrap_or(Crs::Wgs84), &buildings) {
            Ok(read) => (Ok(LayerData::Households(read.households)), read.unmatched),
            Err(e) => (Err(e), Vec::new()),
        }
    } else {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} features checked ({per_sec})")
                .expect("valid template"),
        );
        bar.set_message(format!("{layer}:"));
        let parsed = geodata::parse_layer(&text, layer, crs, || bar.inc(1));
        bar.finish();
        (parsed, Vec::new())
    };
    let data = match parsed {
        Ok(data) => data,
        Err(ImportError::Features(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{} of the features in {} are invalid; nothing was imported",
                errors.len(),
                file.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("storing {} {layer}", data.len()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let (summary, moved) = app
        .import(data)
        .await
        .context("storing; nothing was imported")?;
    spinner.finish_and_clear();
    println!(
        "{layer}: {} inserted, {} updated; {} households and {} buildings (re)assigned",
        summary.inserted, summary.updated, moved.households, moved.buildings
    );
    if !unmatched.is_empty() {
        for row in &unmatched {
            eprintln!("unmatched: {row}");
        }
        println!(
            "{} rows matched no building or address and were left out (listed on stderr)",
            unmatched.len()
        );
    }
    Ok(())
}

async fn export(
    layer: Layer,
    crs: Crs,
    output: Option<PathBuf>,
    database: &str,
) -> anyhow::Result<()> {
    let store = store::open(database)
        .await
        .with_context(|| format!("opening the database {database}"))?;
    let codes: HashMap<i64, String> = store
        .places(None)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect();
    let collection = match layer {
        Layer::Places(kind) => {
            geodata::places_to_geojson(&store.places(Some(kind)).await?, &codes, crs)?
        }
        Layer::Buildings => geodata::buildings_to_geojson(&store.buildings().await?, &codes, crs)?,
        Layer::Households => {
            geodata::households_to_geojson(&store.households().await?, &codes, crs)?
        }
    };
    let text = serde_json::to_string(&collection)?;
    match output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// How residents reach a user, and a secretary's community or branch: optional, blank means
/// none.
struct Profile {
    display_name: Option<String>,
    phone: Option<String>,
    community: Option<String>,
    branch: Option<String>,
}

async fn add_user(
    name: &str,
    role: Role,
    profile: Profile,
    password_file: Option<PathBuf>,
    database: &str,
) -> anyhow::Result<()> {
    let mut line = String::new();
    match &password_file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("reading the password from {}", path.display()))?;
            std::io::BufReader::new(file).read_line(&mut line)?;
        }
        None => {
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
        }
    }
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let app = open_app(database).await?;
    let user = app
        .create_user(
            NewAccount {
                name: name.to_string(),
                role,
                password,
                display_name: given(profile.display_name),
                phone: given(profile.phone),
                community: given(profile.community),
                branch: given(profile.branch),
            },
            None,
        )
        .await
        .with_context(|| format!("creating the user {name:?}"))?;
    println!(
        "user {} ({}) created with id {}",
        user.name, user.role, user.id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use wangge::config::{KEYS, ServeFile};

    fn serve_command() -> clap::Command {
        Cli::command()
            .find_subcommand("serve")
            .expect("serve")
            .clone()
    }

    #[test]
    fn every_serve_setting_has_a_key_in_the_file_and_no_key_is_left_over() {
        let mut ids: Vec<String> = serve_command()
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .filter(|id| id != "config")
            .collect();
        ids.sort();
        let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        keys.sort();
        assert_eq!(ids, keys);
    }

    #[test]
    fn the_example_file_names_every_key_and_changes_nothing() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/wangge.example.toml"));
        let text = std::fs::read_to_string(path).unwrap();
        for key in KEYS {
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = "))),
                "wangge.example.toml does not show {key}"
            );
        }
        let file = ServeFile::load(path).unwrap();
        let with = file.apply(serve_command(), path).unwrap();
        let with = with.get_matches_from(["serve"]);
        let without = serve_command().get_matches_from(["serve"]);
        for key in KEYS {
            let raw = |m: &clap::ArgMatches| {
                m.get_raw(key)
                    .map(|v| v.map(|s| s.to_owned()).collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            assert_eq!(raw(&with), raw(&without), "{key}");
        }
    }

    #[test]
    fn a_file_value_is_checked_by_the_flag_own_parser() {
        let path = Path::new("wangge.toml");
        for (text, key) in [
            ("token_ttl = 0", "token_ttl"),
            ("basemap_crs = \"bd09\"", "basemap_crs"),
            ("trust_proxy = [\"10.0.0.1\", \"proxy\"]", "trust_proxy"),
        ] {
            let e = ServeFile::parse(text, path)
                .unwrap()
                .apply(serve_command(), path)
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("wangge.toml"), "{e}");
        }
    }

    #[test]
    fn the_file_fills_what_the_command_line_leaves_out() {
        let path = Path::new("wangge.toml");
        let file = ServeFile::parse(
            "bind = \"127.0.0.1:9\"\ntoken_ttl = 60\ntrust_proxy = [\"10.0.0.1\", \"10.0.0.2\"]\ndemo = true",
            path,
        )
        .unwrap();
        let mut cli = Cli::command();
        let serve = cli.find_subcommand_mut("serve").unwrap();
        *serve = file.apply(std::mem::take(serve), path).unwrap();
        let m = cli.get_matches_from(["wangge", "serve", "--token-ttl", "5"]);
        match Cli::from_arg_matches(&m).unwrap().command {
            Command::Serve(args) => {
                assert_eq!(args.bind, "127.0.0.1:9");
                assert_eq!(args.token_ttl, 5);
                assert_eq!(args.trust_proxy.len(), 2);
                assert!(args.demo);
            }
            _ => unreachable!(),
        }
    }
}
