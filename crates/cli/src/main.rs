//! The `backstop` command: one binary for operators. `serve` runs the service; the other
//! commands (migrate, regions import, user create / reset-password, audit verify, backup,
//! crosscheck run) work on the same database and keys, by default under `./backstop-data/`.

mod bookings;
mod ledger;
mod node;
mod payments;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use backstop_app::kernel::actor::Actor;
use backstop_app::{AppState, Config, accounts, audit, regions};
use backstop_core::clock::SystemClock;
use backstop_core::password::PasswordPolicy;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "backstop", version, about = "兜底 Backstop — 民政应急平台")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// sqlite://PATH or postgres://USER@HOST/DB (default: sqlite://DATA_DIR/backstop.db)
    #[arg(long, env = "BACKSTOP_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Folder for the database and keys.
    #[arg(
        long,
        env = "BACKSTOP_DATA_DIR",
        default_value = "backstop-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Master key file (default: DATA_DIR/keys/master.key); keep it outside the database.
    #[arg(long, env = "BACKSTOP_KEY_FILE", global = true)]
    key_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Region tables.
    Regions {
        #[command(subcommand)]
        command: RegionsCommand,
    },
    /// Accounts, for operators.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Online backup of the SQLite database into FILE (PostgreSQL: use pg_dump).
    Backup { file: PathBuf },
    /// Persons: roster import.
    Persons {
        #[command(subcommand)]
        command: PersonsCommand,
    },
    /// Cross-checks (数据比对) of the rolls.
    Crosscheck {
        #[command(subcommand)]
        command: CrosscheckCommand,
    },
    /// Bookings (预约): block a day and rebook its bookings.
    Bookings {
        #[command(subcommand)]
        command: bookings::BookingsCommand,
    },
    /// Federation (上下级部署): the child nodes this deployment accepts data from and, at a
    /// child, the parent it reports to.
    Node {
        #[command(subcommand)]
        command: node::NodeCommand,
    },
    /// Payment rolls (发放名册): generate a county's monthly roll, export a bank file.
    Payments {
        #[command(subcommand)]
        command: payments::PaymentsCommand,
    },
    /// The donation ledger (捐赠台账): verify every balance and rule.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "BACKSTOP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The service is reached over HTTPS (cookies get __Host- and Secure).
    #[arg(long, env = "BACKSTOP_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Largest roster upload accepted, MB.
    #[arg(long, env = "BACKSTOP_MAX_UPLOAD_MB", default_value_t = 200)]
    max_upload_mb: u64,
    /// The address people reach the service at (e.g. https://mz.example.cn): the CSRF check
    /// compares scheme, host and port with it; https turns on HSTS.
    #[arg(long, env = "BACKSTOP_PUBLIC_ORIGIN")]
    public_origin: Option<String>,
    /// Bearer token /metrics requires; without it /metrics is not served.
    #[arg(long, env = "BACKSTOP_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client of a
    /// public page, for the public pages' per-address limits.
    #[arg(long, env = "BACKSTOP_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Public requests one address may make in a minute; more are answered 429.
    #[arg(
        long,
        env = "BACKSTOP_PUBLIC_REQUESTS_PER_MINUTE",
        default_value_t = 120
    )]
    public_requests_per_minute: usize,
    /// PostgreSQL: write jobs share transactions (group commit); `false` only to compare.
    #[arg(long, env = "BACKSTOP_PG_GROUP_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pg_group_commit: bool,
    /// PostgreSQL: group-commit writers side by side (a province's reports always share one);
    /// 0 = one.
    #[arg(long, env = "BACKSTOP_WRITE_LANES", default_value_t = 0)]
    write_lanes: usize,
    /// How long one write transaction of a roster import may run before other writers get
    /// their turn, ms; 0 = 250.
    #[arg(long, env = "BACKSTOP_IMPORT_CHUNK_MS", default_value_t = 0)]
    import_chunk_ms: u64,
    #[command(flatten)]
    notify: NotifyArgs,
}

/// Where notifications go (issue 15): an HTTP webhook and an SMS HTTP API (plain HTTP; reach
/// a provider's HTTPS API through a local relay). Secrets come from the environment or a file
/// and are never logged.
#[derive(Args)]
struct NotifyArgs {
    /// Webhook receiving every notification as signed JSON.
    #[arg(long, env = "BACKSTOP_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// HMAC-SHA256 secret of the webhook signature.
    #[arg(long, env = "BACKSTOP_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// SMS HTTP API (POST JSON: phone, text and the stable key).
    #[arg(long, env = "BACKSTOP_SMS_URL")]
    sms_url: Option<String>,
    /// Bearer token of the SMS API.
    #[arg(long, env = "BACKSTOP_SMS_TOKEN", hide_env_values = true)]
    sms_token: Option<String>,
    /// Name of the phone-number field the SMS API expects.
    #[arg(long, env = "BACKSTOP_SMS_PHONE_FIELD", default_value = "phone")]
    sms_phone_field: String,
    /// Name of the text field the SMS API expects.
    #[arg(long, env = "BACKSTOP_SMS_TEXT_FIELD", default_value = "content")]
    sms_text_field: String,
    /// WeChat template-message relay (POST JSON: recipient, template id, text and the stable
    /// key). Plain HTTP: the operator's relay holds the WeChat credentials and maps a
    /// registered mobile number to the official account's user.
    #[arg(long, env = "BACKSTOP_WECHAT_URL")]
    wechat_url: Option<String>,
    /// Bearer token of the WeChat relay.
    #[arg(long, env = "BACKSTOP_WECHAT_TOKEN", hide_env_values = true)]
    wechat_token: Option<String>,
    /// A file holding the WeChat relay's token (instead of BACKSTOP_WECHAT_TOKEN).
    #[arg(long, env = "BACKSTOP_WECHAT_TOKEN_FILE")]
    wechat_token_file: Option<std::path::PathBuf>,
    /// The template id of the official account's template message.
    #[arg(long, env = "BACKSTOP_WECHAT_TEMPLATE_ID", default_value = "")]
    wechat_template_id: String,
    /// Name of the recipient field the relay expects.
    #[arg(long, env = "BACKSTOP_WECHAT_USER_FIELD", default_value = "touser")]
    wechat_user_field: String,
    /// Name of the text field the relay expects.
    #[arg(long, env = "BACKSTOP_WECHAT_TEXT_FIELD", default_value = "content")]
    wechat_text_field: String,
    /// Development, with --webhook-url or --sms-url: record in the log that a message would
    /// be sent (kind, channel, key), send nothing.
    #[arg(long, env = "BACKSTOP_NOTIFY_LOG_ONLY")]
    notify_log_only: bool,
    /// Deliveries the sender claims, sends and records together.
    #[arg(long, env = "BACKSTOP_NOTIFY_BATCH", default_value_t = 500)]
    notify_batch: i64,
    /// Requests the sender has in flight at once per channel (webhook, SMS, WeChat).
    #[arg(long, env = "BACKSTOP_NOTIFY_CONCURRENCY", default_value_t = 8)]
    notify_concurrency: usize,
}

impl NotifyArgs {
    fn gateways(self) -> Result<backstop_app::notify::Gateways, String> {
        let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let webhook = match nonempty(self.webhook_url) {
            Some(url) => Some(backstop_app::notify::WebhookGateway {
                url,
                secret: nonempty(self.webhook_secret)
                    .ok_or("--webhook-url 需要 BACKSTOP_WEBHOOK_SECRET（签名密钥）")?,
            }),
            None => None,
        };
        let sms = nonempty(self.sms_url).map(|url| backstop_app::notify::SmsGateway {
            url,
            token: nonempty(self.sms_token),
            phone_field: self.sms_phone_field,
            text_field: self.sms_text_field,
        });
        let wechat = match nonempty(self.wechat_url) {
            Some(url) => {
                let token = match (nonempty(self.wechat_token), self.wechat_token_file) {
                    (Some(t), _) => Some(t),
                    (None, Some(path)) => nonempty(Some(
                        std::fs::read_to_string(&path)
                            .map_err(|_| "无法读取 --wechat-token-file 指定的文件".to_string())?
                            .trim()
                            .to_string(),
                    )),
                    (None, None) => None,
                };
                Some(backstop_app::notify::WechatGateway {
                    url,
                    token,
                    template_id: self.wechat_template_id,
                    user_field: self.wechat_user_field,
                    text_field: self.wechat_text_field,
                })
            }
            None => None,
        };
        Ok(backstop_app::notify::Gateways {
            webhook,
            sms,
            wechat,
            log_only: self.notify_log_only,
            timeout: None,
        })
    }
}

#[derive(Args)]
struct PolicyArgs {
    /// Minimum password length.
    #[arg(long, env = "BACKSTOP_PASSWORD_MIN_LENGTH", default_value_t = 10)]
    password_min_length: usize,
    /// Minimum character classes (of lower, upper, digit, symbol).
    #[arg(long, env = "BACKSTOP_PASSWORD_MIN_CLASSES", default_value_t = 3)]
    password_min_classes: usize,
    /// Days before a password must be changed.
    #[arg(long, env = "BACKSTOP_PASSWORD_MAX_AGE_DAYS", default_value_t = 90)]
    password_max_age_days: i64,
    /// Failed logins before lockout.
    #[arg(long, env = "BACKSTOP_LOCKOUT_FAILURES", default_value_t = 5)]
    lockout_failures: u32,
    /// Window in which failures count, and length of the lockout, in minutes.
    #[arg(long, env = "BACKSTOP_LOCKOUT_MINUTES", default_value_t = 15)]
    lockout_minutes: i64,
    /// Idle timeout of a session, minutes.
    #[arg(long, env = "BACKSTOP_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: i64,
    /// Absolute lifetime of a session, minutes.
    #[arg(long, env = "BACKSTOP_SESSION_ABSOLUTE_MINUTES", default_value_t = 720)]
    session_absolute_minutes: i64,
}

#[derive(Subcommand)]
enum RegionsCommand {
    /// Import streets.csv and villages.csv from DIR (idempotent, all or nothing).
    Import { dir: PathBuf },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// Role identifier; repeat or separate with commas.
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        /// Scope region code ("0" for national).
        #[arg(long)]
        region: String,
        #[arg(long)]
        org: Option<i64>,
        #[arg(long, default_value = "")]
        display_name: String,
        /// Registered mobile phone (mainland, 11 digits): a reset's one-time password is sent
        /// there when an official resets the account.
        #[arg(long, default_value = "")]
        phone: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set a new password (read from standard input) that must be changed at next login; for
    /// an administrator account the second factor is reset too (administrator accounts are
    /// created and reset only here, never in the application).
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Forget an account's TOTP second factor (a lost phone): it enrols again at next login.
    ResetTotp {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; exits non-zero naming the first broken entry.
    Verify,
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BACKSTOP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().init(),
    }
}

impl Common {
    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("backstop.db").display()))
    }
    fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| backstop_app::key_path(&self.data_dir))
    }
}

impl PolicyArgs {
    fn config(&self, secure_cookies: bool) -> Config {
        Config {
            secure_cookies,
            policy: PasswordPolicy {
                min_len: self.password_min_length,
                min_classes: self.password_min_classes,
                max_age_days: self.password_max_age_days,
                max_failures: self.lockout_failures,
                lockout_minutes: self.lockout_minutes,
                ..PasswordPolicy::default()
            },
            session_idle_minutes: self.session_idle_minutes,
            session_absolute_minutes: self.session_absolute_minutes,
            ..Config::default()
        }
    }
}

/// A service's refusal as the console shows it: the message, the first field's reason, the
/// stable code (`backstop bookings …`, `backstop node …`).
pub(crate) fn failed(e: backstop_app::kernel::error::AppError) -> String {
    let field = e
        .fields
        .first()
        .map(|f| format!("：{}", f.message))
        .unwrap_or_default();
    format!("{}{field}（{}）", e.message, e.code.as_str())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.common.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("无法启动运行时: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn open(common: &Common, config: Config) -> Result<AppState, String> {
    let url = common.database_url();
    backstop_store::backend_of(&url).map_err(|e| e.to_string())?;
    backstop_app::open(&url, &common.key_file(), Arc::new(SystemClock), config)
        .await
        .map_err(|e| e.to_string())
}

/// Connect to a database that must already exist. `audit verify` and `backup` only read: on
/// SQLite, connecting would otherwise create an empty file (say, in the wrong working
/// directory) and report success on it, e.g. "backed up" an empty database.
async fn connect_existing(common: &Common) -> Result<backstop_store::Db, String> {
    let url = common.database_url();
    let backend = backstop_store::backend_of(&url).map_err(|e| e.to_string())?;
    if backend == backstop_store::Backend::Sqlite
        && let Some(path) = backstop_store::sqlite_path(&url)
        && !path.is_file()
    {
        return Err(format!(
            "数据库文件 {} 不存在（请检查 --data-dir 或 --database-url；新部署请先运行 backstop migrate）",
            path.display()
        ));
    }
    backstop_store::Db::connect(&url)
        .await
        .map_err(|e| e.to_string())
}

fn read_password_stdin() -> Result<String, String> {
    let mut s = String::new();
    std::io::stdin()
        .take(1024)
        .read_to_string(&mut s)
        .map_err(|e| format!("无法读取标准输入: {e}"))?;
    let p = s.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err("标准输入中没有密码".to_string());
    }
    Ok(p)
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let common = cli.common;
    match cli.command {
        Command::Serve(args) => serve(&common, *args).await,
        Command::Migrate => {
            let url = common.database_url();
            let db = backstop_store::Db::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let applied = db.migrate().await.map_err(|e| e.to_string())?;
            let filled = backstop_app::people::pinyin::backfill(&db)
                .await
                .map_err(|e| e.to_string())?;
            if filled > 0 {
                println!("已为 {filled} 条人员记录生成姓名拼音检索键");
            }
            let initials = backstop_app::regions::backfill_initials(&db)
                .await
                .map_err(|e| e.to_string())?;
            if initials > 0 {
                println!("已为 {initials} 个区划生成拼音首字母");
            }
            if applied.is_empty() {
                println!("数据库已是最新");
            } else {
                for m in applied {
                    println!("已应用迁移 {m}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Regions {
            command: RegionsCommand::Import { dir },
        } => {
            let state = open(&common, Config::default()).await?;
            import_regions(&state, &dir).await
        }
        Command::User { command } => {
            let state = open(&common, Config::default()).await?;
            let actor = Actor::operator();
            match command {
                UserCommand::Create {
                    username,
                    roles,
                    region,
                    org,
                    display_name,
                    phone,
                    ..
                } => {
                    let password = read_password_stdin()?;
                    let input = accounts::NewUser {
                        username,
                        password,
                        roles,
                        region_code: region,
                        org_id: org,
                        display_name,
                        phone,
                    };
                    let u = accounts::create_user(&state, &actor, &input)
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
                    println!(
                        "已创建用户 {}（id {}），首次登录须修改密码",
                        u.username, u.id
                    );
                }
                UserCommand::ResetPassword { username, .. } => {
                    let password = read_password_stdin()?;
                    let id = accounts::id_by_username(&state, &actor, &username)
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
                    accounts::reset_password(&state, &actor, id, Some(&password))
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
                    let admin = accounts::get_user(&state, &actor, id)
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?
                        .roles
                        .iter()
                        .any(|r| ["sysadmin", "secadmin", "auditor"].contains(&r.as_str()));
                    if admin {
                        println!(
                            "已重置管理员 {username} 的密码和动态验证码，下次登录须修改密码并重新绑定"
                        );
                    } else {
                        println!("已重置用户 {username} 的密码，下次登录须修改");
                    }
                }
                UserCommand::ResetTotp { username } => {
                    let id = accounts::id_by_username(&state, &actor, &username)
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
                    accounts::reset_second_factor(&state, &actor, id)
                        .await
                        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
                    println!("已重置用户 {username} 的动态验证码，下次登录须重新绑定");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = connect_existing(&common).await?;
            let report = audit::verify(&db).await.map_err(|e| e.to_string())?;
            for (chain, n, head) in &report.chains {
                let name = match chain.as_str() {
                    "00" => "全国链".to_string(),
                    "" => "旧审计链（按省分链之前）".to_string(),
                    p => format!("省链 {p}"),
                };
                println!("{name}：{n} 条记录，链头 {head}");
            }
            match report.first_broken {
                None => {
                    println!(
                        "审计链完整：共 {} 条记录，{} 条链，全国链链头 {}",
                        report.entries,
                        report.chains.len(),
                        report.head
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some((id, why)) => {
                    println!(
                        "审计链断裂：第一条异常记录 id={id}：{why}（此前 {} 条完好）",
                        report.entries
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Persons {
            command:
                PersonsCommand::Import {
                    file,
                    region,
                    good_rows,
                    households_by_address,
                },
        } => {
            let state = open(&common, Config::default()).await?;
            import_persons(&state, &file, region, good_rows, households_by_address).await
        }
        Command::Crosscheck {
            command: CrosscheckCommand::Run { region },
        } => {
            let state = open(&common, Config::default()).await?;
            run_crosscheck(&state, region.as_deref()).await
        }
        Command::Bookings { command } => {
            let state = open(&common, Config::default()).await?;
            bookings::run(&state, command).await
        }
        Command::Node { command } => {
            let state = open(&common, Config::default()).await?;
            node::run(&state, command).await
        }
        Command::Payments { command } => {
            let state = open(&common, Config::default()).await?;
            payments::run(&state, command).await
        }
        Command::Ledger { command } => {
            if let Some(done) = ledger::offline(&command) {
                return done;
            }
            let state = open(&common, Config::default()).await?;
            ledger::run(&state, command).await
        }
        Command::Backup { file } => {
            let db = connect_existing(&common).await?;
            if db.backend() == backstop_store::Backend::Postgres {
                println!(
                    "PostgreSQL 请使用 pg_dump 备份，例如：pg_dump -Fc -f backstop.dump \"$BACKSTOP_DATABASE_URL\""
                );
                return Ok(ExitCode::from(2));
            }
            if file.exists() {
                return Err(format!("{} 已存在，不会覆盖", file.display()));
            }
            db.backup_sqlite(&file).await.map_err(|e| e.to_string())?;
            println!("已备份到 {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn import_regions(state: &AppState, dir: &Path) -> Result<ExitCode, String> {
    use indicatif::{ProgressBar, ProgressStyle};
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |p: regions::import::Progress| match p {
        regions::import::Progress::Checking { file, rows } => {
            bar.set_message(format!("检查 {file}"));
            bar.set_length(rows);
            bar.set_position(rows);
        }
        regions::import::Progress::Writing { done, total } => {
            bar.set_message("写入".to_string());
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let result = regions::import::import_dir(state, &Actor::operator(), dir, &mut progress).await;
    bar.finish_and_clear();
    match result {
        Ok(s) => {
            println!(
                "导入完成：乡镇（街道）{} 个，村（社区）{} 个，新增或更名 {} 条",
                s.townships, s.villages, s.changed
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", e.message);
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(common: &Common, args: ServeArgs) -> Result<ExitCode, String> {
    let mut config = args.policy.config(args.secure_cookies);
    config.max_upload_bytes = args.max_upload_mb.saturating_mul(1024 * 1024);
    config.upload_dir = Some(common.data_dir.join("uploads"));
    if let Some(o) = args.public_origin.as_deref().filter(|o| !o.is_empty()) {
        let n = backstop_app::kernel::web::normalize_origin(o)
            .ok_or_else(|| format!("--public-origin {o} 无效：应为 https://主机[:端口]"))?;
        config.public_origin = Some(n);
    }
    config.metrics_token = args.metrics_token.filter(|t| !t.is_empty());
    config.sender = backstop_app::notify::SendSettings {
        batch: args.notify.notify_batch,
        concurrency: args.notify.notify_concurrency,
    };
    config.gateways = args.notify.gateways()?;
    config.trusted_proxies = args.trusted_proxy;
    config.public_requests_per_minute = args.public_requests_per_minute;
    config.pg_group_commit = args.pg_group_commit;
    config.write_lanes = args.write_lanes;
    config.import_chunk_ms = args.import_chunk_ms;
    let state = open(common, config).await?;
    if let Err(e) = backstop_app::people::import_pages::sweep(&state, true).await {
        tracing::warn!(
            code = e.code.as_str(),
            "sweeping stale roster uploads failed"
        );
    }
    let given = std::env::var("BACKSTOP_INITIAL_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    match accounts::ensure_initial_admin(&state, given.as_deref()).await {
        Ok(Some(generated)) => {
            println!(
                "初始管理员账户 admin 的密码（只显示这一次，首次登录须修改）：admin {generated}"
            );
        }
        Ok(None) => {}
        Err(e) => return Err(e.message),
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("无法监听 {}: {e}", args.listen))?;
    tracing::info!(listen = %args.listen, backend = state.db.backend().as_str(), "backstop serving");
    println!("Backstop 已启动：http://{}", args.listen);
    // Reminders at report deadlines (催报): checked every minute; each runs once per day.
    let ticker = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut signed_through = String::new();
        let mut minutes = 0u64;
        loop {
            every.tick().await;
            // The national audit chain pins every province chain's head (every 10 minutes).
            if minutes.is_multiple_of(10) {
                match backstop_app::audit::record_heads(&ticker).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(chains = n, "audit chain heads recorded"),
                    Err(e) => tracing::warn!(code = e.code.as_str(), "audit chain heads failed"),
                }
            }
            minutes += 1;
            match backstop_app::reports::run_deadlines(&ticker).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminded = n, "report reminders queued"),
                Err(e) => tracing::warn!(code = e.code.as_str(), "report reminders failed"),
            }
            // The escalation engine (催报升级): repeated reminders, then the leaders; missed
            // home-observation check-ins (居家观察漏报) under its `observation_checkin` rule.
            match backstop_app::notify::escalate::tick(&ticker).await {
                Ok(r) if r.reminded + r.escalated > 0 => {
                    tracing::info!(
                        reminded = r.reminded,
                        escalated = r.escalated,
                        "escalation tick"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code.as_str(), "escalation tick failed"),
            }
            // The public donation chain's heads (签名链头): every day that ended with entries
            // not yet signed — on start (catching up) and then once a day.
            let yesterday = (ticker.today() - chrono::Duration::days(1))
                .format("%Y-%m-%d")
                .to_string();
            if yesterday != signed_through {
                // Entries written outside the service's own posting (a bulk load) are
                // published first, so the heads cover them (as `ledger sign-head` does).
                if let Err(e) = backstop_app::donations::disclosure::publish_pending(&ticker).await
                {
                    tracing::warn!(code = e.code.as_str(), "disclosure catch-up failed");
                }
                match backstop_app::donations::disclosure::sign_due(&ticker, &yesterday).await {
                    Ok(n) => {
                        signed_through = yesterday;
                        if n > 0 {
                            tracing::info!(heads = n, "disclosure heads signed");
                        }
                    }
                    Err(e) => tracing::warn!(code = e.code.as_str(), "disclosure heads failed"),
                }
            }
            // Emergency periods whose end date has passed end themselves (应急期到期).
            match backstop_app::assistance::emergency::end_lapsed(&ticker).await {
                Ok(r) if r.ended > 0 => tracing::info!(
                    ended = r.ended,
                    exits_released = r.exits_released,
                    "emergency periods ended"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code.as_str(), "emergency period ends failed"),
            }
            // Divorce cooling-off periods (离婚冷静期): reminders and lapses.
            match backstop_app::bookings::divorce::tick(&ticker).await {
                Ok(r) if r.lapsed + r.reminded > 0 => tracing::info!(
                    lapsed = r.lapsed,
                    reminded = r.reminded,
                    "divorce cooling-off tick"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code.as_str(), "divorce cooling-off tick failed"),
            }
        }
    });
    // Planner statistics of the tables that grew fast (PostgreSQL; a first morning, a restore).
    state
        .db
        .spawn_analyze_grown(std::time::Duration::from_secs(10));
    // Up to the parent deployment (issue 20), while one is registered.
    backstop_app::federation::child::spawn_sync(state.clone());
    // Notifications out to the gateways (SMS, webhook), when any is configured.
    if state.config.gateways.any() {
        backstop_app::notify::spawn_worker(state.clone());
    }
    let app = backstop_app::router(state.clone());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|e| e.to_string())?;
    state.db.close().await;
    tracing::info!("backstop stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[derive(Subcommand)]
enum PersonsCommand {
    /// Import a roster: Excel .xlsx (first worksheet) or CSV (UTF-8, UTF-8 with BOM or GBK),
    /// recognised by content; header row in Chinese or English. All or nothing unless
    /// --good-rows; exits non-zero when rows were rejected.
    Import {
        file: PathBuf,
        /// Region the rows belong to (used when the file has no region column; rows must lie
        /// inside it).
        #[arg(long)]
        region: Option<String>,
        /// Import the good rows even when some are rejected.
        #[arg(long)]
        good_rows: bool,
        /// Without a household-number column (户号), group the rows of a village with the same
        /// current address into one household.
        #[arg(long)]
        households_by_address: bool,
    },
}

async fn import_persons(
    state: &AppState,
    file: &Path,
    region: Option<String>,
    good_rows: bool,
    households_by_address: bool,
) -> Result<ExitCode, String> {
    use backstop_app::people::import::{self, ImportOptions, Progress};
    use indicatif::{ProgressBar, ProgressStyle};
    let f = std::fs::File::open(file).map_err(|e| format!("无法打开 {}: {e}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let opts = ImportOptions {
        region,
        good_rows,
        households_by_address,
        chunk: state.config.import_chunk(),
        ..ImportOptions::default()
    };
    if size > opts.max_bytes {
        return Err(format!(
            "{} 有 {} MB，超过上限 {} MB",
            file.display(),
            size / (1024 * 1024),
            opts.max_bytes / (1024 * 1024)
        ));
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("导入 [{bar:30}] {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |p: Progress<'_>| match p {
        Progress::Rows {
            rows,
            bytes,
            rejected,
            ..
        } => {
            bar.set_position(bytes);
            bar.set_message(format!("写入 {rows} 行，拒绝 {rejected}"));
        }
        Progress::Checking {
            rows,
            bytes,
            rejected,
        } => {
            bar.set_position(bytes);
            bar.set_message(format!("检查 {rows} 行（尚未写入），拒绝 {rejected}"));
        }
        Progress::Committed { .. } => {}
        Progress::Rejected(i) => {
            bar.suspend(|| eprintln!("第 {} 行 拒绝：{} {}", i.line, i.reason, i.id_masked))
        }
        Progress::Warning(i) => bar.suspend(|| eprintln!("第 {} 行 提示：{}", i.line, i.reason)),
    };
    let reader = std::io::BufReader::with_capacity(256 * 1024, f);
    let result = import::import_file(state, &Actor::operator(), reader, &opts, &mut progress).await;
    bar.finish_and_clear();
    let r = result.map_err(|e| format!("{}（{}）", e.message(), e.code()))?;
    if !r.ignored_columns.is_empty() {
        println!("未识别、已忽略的列：{}", r.ignored_columns.join("、"));
    }
    println!(
        "格式 {}，共 {} 行：新增 {}，合并 {}，拒绝 {}（提示 {} 条）",
        r.encoding, r.rows, r.imported, r.merged, r.rejected, r.warnings_total
    );
    if r.rejected > 0 && !r.committed {
        println!(
            "有被拒绝的行，全部未导入（全有或全无）；修正后重新导入，或使用 --good-rows 只导入正确的行"
        );
    }
    Ok(if r.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Subcommand)]
enum CrosscheckCommand {
    /// Run the cross-checks and store the conflicts found (idempotent; resolved ones stay
    /// resolved). Prints the counts.
    Run {
        /// Region to check (default: the whole country).
        #[arg(long)]
        region: Option<String>,
    },
}

async fn run_crosscheck(state: &AppState, region: Option<&str>) -> Result<ExitCode, String> {
    let r = backstop_app::crosscheck::run(state, &Actor::operator(), region)
        .await
        .map_err(|e| format!("{}（{}）", e.message, e.code.as_str()))?;
    println!(
        "数据比对完成（区划 {}）：发现 {} 条，新增 {}，重新出现 {}，已消除 {}；待处理 {} 条",
        r.region, r.found, r.created, r.reopened, r.cleared, r.open
    );
    Ok(ExitCode::SUCCESS)
}
