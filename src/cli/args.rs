//! The command line as design.md lists it, in clap derive form.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// tradeledger: certificates of origin on a verifiable log, bodies encrypted for chosen readers.
#[derive(Debug, Parser)]
#[command(name = "tradeledger", version, about, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: Global,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts (before or after the command name).
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "TRADELEDGER_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Your party key file (made by `keygen`).
    #[arg(long, global = true, env = "TRADELEDGER_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The log's verifier key (C2SP vkey text, or a file holding it); pinned on first use.
    #[arg(
        long = "log-key",
        global = true,
        env = "TRADELEDGER_LOG_KEY",
        value_name = "VKEY"
    )]
    pub log_key: Option<String>,
    /// A witness policy (C2SP tlog-policy file): checkpoints must carry its quorum of witness cosignatures.
    /// Without it, the log key alone is trusted.
    #[arg(long, global = true, env = "TRADELEDGER_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a party's key pair: FILE (secret, mode 0600) and FILE.pub (public identity).
    Keygen(KeygenArgs),
    /// Run the service over an embedded store (or with the vault in PostgreSQL: --postgres).
    Serve(Box<ServeArgs>),
    /// Rebuild the log's derived files (tiles, entry offsets) from its journal; the service must be stopped.
    Repair(RepairArgs),
    /// Move a stopped embedded deployment (--data) into PostgreSQL: the log, its checkpoint and the vault.
    Migrate(MigrateArgs),
    /// Enroll a party on the log (operator only).
    Enroll(EnrollArgs),
    /// Validate, encrypt and register certificates for the given readers.
    Register(RegisterArgs),
    /// Let one more party read a certificate you registered.
    Grant(GrantArgs),
    /// Withdraw a party's access to a certificate you registered.
    Revoke(RevokeArgs),
    /// Fetch, verify and decrypt a certificate you were granted.
    Open(OpenArgs),
    /// Disclose chosen fields of a certificate as a bundle anyone can verify offline.
    Disclose(DiscloseArgs),
    /// Verify offline against the log key: a disclosure bundle, a receipt, a VC-JOSE credential or an SD-JWT.
    Verify(VerifyArgs),
    /// Audit the whole log: tree, tiles, signatures, consistency with the previous run.
    Audit(AuditArgs),
    /// Run the whole story on a temporary embedded store.
    Demo,
    /// Who opened a certificate and when (registrant); anyone else sees only the count.
    Accesses(AccessesArgs),
    /// Rotate a party's keys: the party's current key consents, the operator countersigns.
    Rotate(RotateArgs),
    /// Re-wrap your grants to a party for its rotated encryption key (bodies are not re-encrypted).
    Rewrap(RewrapArgs),
    /// Delete a certificate's body and envelopes for good; the log keeps proving it existed.
    Purge(PurgeArgs),
    /// Run a witness (C2SP tlog-witness) that cosigns the checkpoints of the given logs; --key is its key file.
    Witness(WitnessArgs),
    /// Generate a witness key: FILE (secret, mode 0600) and FILE.vkey (its verifier key, for policies).
    WitnessKeygen(WitnessKeygenArgs),
    /// Fetch a receipt (C2SP tlog-proof) for a registration, or carry an old one to a newer checkpoint.
    Receipt(ReceiptArgs),
    /// Load-test a server (or an embedded one): concurrent registrations of pre-sealed certificates, then opens.
    Bench(BenchArgs),
    /// Export a certificate you registered as a W3C Verifiable Credential (VC-JOSE), bound to the log.
    Export(ExportArgs),
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
    /// The format: vc-jose (a VC 2.0 credential as a compact JWS, typ vc+jwt).
    #[arg(long, value_enum, default_value_t = ExportFormat::VcJose)]
    pub format: ExportFormat,
    /// Write the token to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// W3C VC 2.0 secured with VC-JOSE (compact JWS, `application/vc+jwt`).
    VcJose,
}

/// The formats `disclose` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiscloseFormat {
    /// The native disclosure bundle (tradeledger-disclosure-bundle/v1); pointers address the native body.
    Bundle,
    /// An SD-JWT VC presentation (RFC 9901); pointers address the credential (docs/interop.md).
    SdJwt,
}

/// `accesses`.
#[derive(Debug, Args)]
pub struct AccessesArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
}

/// `rotate`: with `--key OLD --new-key NEW` the party signs its consent; with `--operator-key` as well, the
/// operator countersigns and submits at once; or the party writes `--out REQUEST` and the operator later runs
/// `rotate --key OPERATOR_KEY --request REQUEST`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The party's new key file (made by `keygen` with the same party id and role).
    #[arg(
        long = "new-key",
        value_name = "NEW_KEY_FILE",
        required_unless_present = "request"
    )]
    pub new_key: Option<PathBuf>,
    /// The operator's key: countersign and submit in one step.
    #[arg(long = "operator-key", value_name = "OPERATOR_KEY", conflicts_with_all = ["out", "request"])]
    pub operator_key: Option<PathBuf>,
    /// Write the party's signed rotation request here, for the operator.
    #[arg(long, value_name = "REQUEST", conflicts_with = "request")]
    pub out: Option<PathBuf>,
    /// As the operator (`--key OPERATOR_KEY`): countersign and submit this rotation request.
    #[arg(long, value_name = "REQUEST", conflicts_with = "new_key")]
    pub request: Option<PathBuf>,
}

/// `rewrap`.
#[derive(Debug, Args)]
pub struct RewrapArgs {
    /// The party whose keys rotated.
    #[arg(long, value_name = "PARTY")]
    pub party: String,
    /// Only these certificates [default: every certificate with a local grant record naming PARTY].
    #[arg(value_name = "CERT_ID")]
    pub certs: Vec<String>,
}

/// `purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
}

/// `witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The data directory (the latest cosigned checkpoint per log, and witness.vkey).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
    pub listen: String,
    /// A log to witness: its verifier key (vkey text or a file holding it); repeat for several.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
}

/// `witness-keygen`.
#[derive(Debug, Args)]
pub struct WitnessKeygenArgs {
    /// The witness's name, e.g. witness.example.org/w1 (its key name in cosignatures and policies).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Where to write the secret key; the verifier key goes to FILE.vkey.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `receipt`.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// The certificate whose registration the receipt is for.
    #[arg(value_name = "CERT_ID", required_unless_present_any = ["index", "refresh"])]
    pub cert_id: Option<String>,
    /// The receipt of log entry N instead (any entry kind).
    #[arg(long, value_name = "N", conflicts_with_all = ["cert_id", "refresh"])]
    pub index: Option<u64>,
    /// Extend this receipt with a consistency proof to the latest published checkpoint.
    #[arg(long, value_name = "RECEIPT", conflicts_with = "cert_id")]
    pub refresh: Option<PathBuf>,
    /// Write the receipt to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The party id (a-z, 0-9, '.', '-', '_').
    #[arg(long, value_name = "ID")]
    pub party: String,
    /// The role: importer, exporter, producer, broker, customs, auditor, operator.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// Where to write the secret key; the public identity goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The data directory of a stopped service.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

/// `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory of the stopped embedded service (its lock is taken: refused while it serves).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The PostgreSQL database to migrate into: empty, or holding an interrupted migration of this same log
    /// (then resumed). Same forms as `serve --postgres`.
    #[arg(
        long,
        value_name = "URL",
        env = "TRADELEDGER_POSTGRES",
        hide_env_values = true
    )]
    pub postgres: String,
    /// Copy the ciphertexts into this S3-compatible bucket's private prefix (private/PREFIX/), then publish the
    /// migrated log under PREFIX/ (s3://NAME/PREFIX; endpoint, region and credentials from the environment, as
    /// for `serve --bucket`).
    #[arg(long, value_name = "URL", env = "TRADELEDGER_BUCKET")]
    pub bucket: Option<String>,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data directory (log, log key; and the vault unless --postgres).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Keep the log, the vault and the replay-nonce store in this PostgreSQL database (postgresql://USER@HOST/DB
    /// or key=value settings; what it leaves out comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE),
    /// shared with every other frontend started on it (docs/distributed.md).
    #[arg(
        long,
        value_name = "URL",
        env = "TRADELEDGER_POSTGRES",
        hide_env_values = true
    )]
    pub postgres: Option<String>,
    /// Most connections to PostgreSQL at once (vault and nonce store together; the cross-frontend locks have
    /// as many again).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub postgres_connections: u32,
    /// Publish the log in C2SP tlog-tiles layout to this S3-compatible bucket (s3://NAME[/PREFIX]) as it
    /// grows; with --postgres, also keep certificate ciphertexts under its private prefix private/PREFIX/.
    /// Endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY (docs/operations.md).
    #[arg(long, value_name = "URL", env = "TRADELEDGER_BUCKET")]
    pub bucket: Option<String>,
    /// A checkpoint this log published (from /checkpoint, a witness, a monitor or the bucket): refuse to start
    /// if the log is behind it or not consistent with it, as after a restore from an older backup.
    #[arg(long, value_name = "FILE")]
    pub published_checkpoint: Option<PathBuf>,
    /// Sign with the log key in FILE (C2SP signer key, mode 0600) instead of DATA/log.key: every frontend of
    /// one database must sign with the key the database's log was started with, and is refused otherwise.
    #[arg(long, value_name = "FILE")]
    pub log_key_file: Option<PathBuf>,
    /// With --postgres: record this frontend's policy set as the one every frontend must run (after changing
    /// the policies; frontends started with another set are refused).
    #[arg(long)]
    pub adopt_policies: bool,
    /// With --postgres: longest wait, in milliseconds, for a certificate's or the party registry's lock held
    /// by another request (at any frontend) before answering 503.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub lock_wait_ms: u64,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The operator's public identity (FILE.pub).
    #[arg(long, value_name = "FILE.pub")]
    pub operator: PathBuf,
    /// Directory of Cedar policies and their schema [default: DATA/policies, created with the built-in set].
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The log's checkpoint origin.
    #[arg(long, value_name = "NAME", default_value = "tradeledger.example/log")]
    pub origin: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Days a certificate body is kept after registration; older ones are purged by a background sweep.
    #[arg(long, value_name = "DAYS", default_value_t = crate::server::DEFAULT_RETENTION_DAYS)]
    pub retention: u64,
    /// Witness policy (C2SP tlog-policy): this log's key, the witnesses with their URLs, the quorum. With it,
    /// /checkpoint serves only checkpoints cosigned to the quorum.
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    /// Least time between two cosigning rounds, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub cosign_interval_ms: u64,
    /// Most request nonces remembered for replay protection (about 50 bytes each), shared equally among the
    /// enrolled parties: a party over its share is refused (429) until its older nonces expire.
    #[arg(long, value_name = "N", default_value_t = 4_000_000)]
    pub max_replay_entries: usize,
    /// Most connections at once; further ones get 503 and are closed (lowered to fit the open-file limit).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Longest wait for a complete request head, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Longest a kept-alive connection may idle between requests, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub idle_timeout_ms: u64,
    /// Longest a signed request's body may take to arrive, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub body_timeout_ms: u64,
    /// After SIGTERM or ctrl-c, how long in-flight requests may take before their connections are dropped.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// Most bytes of request bodies buffered at once across all connections; beyond it, 503.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub body_budget_bytes: usize,
    /// Longest request head (request line and header fields), in bytes; beyond it, 431.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 10)]
    pub max_header_bytes: usize,
    /// Longest request target, in bytes; beyond it, 414.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 10)]
    pub max_uri_bytes: usize,
}

/// `enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The party's public identity file.
    #[arg(value_name = "PARTY.pub")]
    pub party: PathBuf,
}

/// `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// A reader (repeat for several); you keep an envelope of your own anyway.
    #[arg(long = "to", value_name = "PARTY", required = true)]
    pub to: Vec<String>,
    /// A certificate or credential file (JSON, or a VC-JOSE compact JWS), or a directory whose *.json and *.jwt
    /// files are all registered.
    #[arg(value_name = "CERT.json")]
    pub cert: PathBuf,
    /// Also fetch the registration's receipt and write it to FILE (for a directory of certificates: into the
    /// directory FILE, one CERT_ID.tlog-proof each). --json output always includes it.
    #[arg(long, value_name = "FILE")]
    pub receipt_out: Option<PathBuf>,
}

/// `grant`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The certificate id (32 hex digits).
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
    /// The party to grant.
    #[arg(long, value_name = "PARTY")]
    pub to: String,
}

/// `revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
    /// The party whose access ends.
    #[arg(long, value_name = "PARTY")]
    pub from: String,
}

/// `open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
    /// Write the body to FILE (mode 0600) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `disclose`.
#[derive(Debug, Args)]
pub struct DiscloseArgs {
    /// The certificate id.
    #[arg(value_name = "CERT_ID")]
    pub cert_id: String,
    /// JSON pointers of the fields to disclose, comma-separated (a pointer to an object discloses all below).
    #[arg(
        long,
        value_name = "PTR[,PTR...]",
        value_delimiter = ',',
        required = true
    )]
    pub fields: Vec<String>,
    /// Where to write the bundle.
    #[arg(long, value_name = "BUNDLE")]
    pub out: PathBuf,
    /// The format: the native bundle, or an SD-JWT VC presentation of the certificate's credential.
    #[arg(long, value_enum, default_value_t = DiscloseFormat::Bundle)]
    pub format: DiscloseFormat,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A disclosure bundle, a receipt (.tlog-proof), a VC-JOSE credential or an SD-JWT presentation.
    #[arg(value_name = "FILE")]
    pub bundle: PathBuf,
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Where the previous run's tree size and root are kept; read if present, updated on success.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Audit from a static copy of the log in C2SP tlog-tiles layout (the bucket's public prefix, a mirror, a
    /// CDN: URL/checkpoint, URL/tile/...) instead of the server; needs only the log key.
    #[arg(long, value_name = "URL")]
    pub tiles: Option<String>,
}

/// `bench`: the load generator. With `--server URL[,URL...]` (and `--operator-key`) it loads running servers,
/// each client bound to one of them in turn (frontends of one database); without, it starts an embedded one
/// on a temporary data directory.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent clients of the registration phase; one run per value.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "64,256"
    )]
    pub clients: Vec<usize>,
    /// Registrations per run (all sealed and signed before the timed phase).
    #[arg(long, value_name = "N", default_value_t = 30_000)]
    pub count: usize,
    /// Registrant parties the registrations are spread over (the replay guard caps each party's rate).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub importers: usize,
    /// Opens (`GET /v1/certificates/{id}/sealed` by the customs party) after the registrations.
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    pub opens: usize,
    /// Concurrent clients of the open phase.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub open_clients: usize,
    /// Size of the certificate body (canonical JSON), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub body_bytes: usize,
    /// The operator's key file, to enroll the benchmark's parties on the server given with --server.
    #[arg(long, value_name = "FILE")]
    pub operator_key: Option<PathBuf>,
    /// Data directory of the embedded server [default: a temporary directory under /var/tmp, removed after].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Where to watch for the published checkpoint (a checkpoint's URL, e.g. the bucket's public
    /// .../checkpoint), to time acknowledgment-to-published; default: every server's /checkpoint.
    #[arg(long, value_name = "URL")]
    pub published: Option<String>,
}
