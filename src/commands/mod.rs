//! What each command does, after the command line is parsed.
use std::io::Read;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

mod bench_forward;
mod bench_webhook;
pub mod check;

use crate::cli::{ApiTokenCommand, Cli, Command, MasterKeyCommand, UserCommand};
use crate::crypto::MasterKey;
use crate::domain::{Email, Role};
use crate::startup::Application;
use crate::store::{Actor, Store};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let json = args.log_format == "json";
            crate::telemetry::init("info", json);
            let settings = args.settings()?;
            let store = Store::connect(&settings.database_url).await?;
            store.migrate().await?;
            crate::keys::ensure_master_key(&store, &settings.keyring()).await?;
            let listener = std::net::TcpListener::bind(settings.bind)
                .with_context(|| format!("could not listen on {}", settings.bind))?;
            tracing::info!(url = %settings.public_url, database = %settings.database_url.redacted(), "storedesk is listening");
            let app = Application::build_with(settings, store, listener).await?;
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Demo(args) => {
            crate::telemetry::init("warn", false);
            crate::demo::run(args).await
        }
        Command::Check(args) => {
            let settings = args.settings()?;
            let lines = check::run(&settings).await;
            for l in &lines {
                println!("{l}");
            }
            let failed = lines
                .iter()
                .filter(|l| l.verdict == check::Verdict::Fail)
                .count();
            match failed {
                0 => {
                    println!("Everything checked is in order.");
                    Ok(())
                }
                n => anyhow::bail!("{n} check(s) failed; each FAIL line says what to change."),
            }
        }
        Command::Migrate(db) => {
            crate::telemetry::init("info", false);
            let url = db.database_url("storedesk.db")?;
            let store = Store::connect(&url).await?;
            store.migrate().await?;
            println!("The database at {} is up to date.", url.redacted());
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    role,
                    password_stdin,
                    db,
                },
        } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let role = Role::parse(&role)
                .map_err(|_| anyhow::anyhow!("--role must be admin, lead or support"))?;
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("could not read the password from standard input")?;
                let s = s.trim_end_matches(['\r', '\n']).to_string();
                if let Some(problem) = crate::auth::password::password_problem(&s, email.as_str()) {
                    anyhow::bail!("the password from standard input is not accepted: {problem}");
                }
                SecretString::from(s)
            } else {
                crate::auth::password::generate_password()
            };
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let hash = crate::auth::password::hash_password(password.clone()).await?;
            store
                .create_user(
                    &email,
                    &hash,
                    role,
                    !password_stdin,
                    &Actor::system("storedesk user add"),
                )
                .await
                .map_err(|e| anyhow::anyhow!("could not add the user: {e}"))?;
            if password_stdin {
                println!("Added {} as {}.", email.as_str(), role.as_str());
            } else {
                println!(
                    "Added {} as {}. One-time password (shown only now): {}",
                    email.as_str(),
                    role.as_str(),
                    password.expose_secret()
                );
            }
            Ok(())
        }
        Command::User {
            command: UserCommand::Unlock { email, db },
        } => {
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let user = known_user(&store, &email).await?;
            let n = store
                .unlock_user(&user.email, &Actor::system("storedesk user unlock"))
                .await?;
            println!(
                "Unlocked {}: {n} failed sign-in attempt{} forgotten; they can sign in again now.",
                user.email,
                if n == 1 { "" } else { "s" }
            );
            Ok(())
        }
        Command::User {
            command: UserCommand::ResetMfa { email, db },
        } => {
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let user = known_user(&store, &email).await?;
            store
                .remove_second_factors(
                    user.id,
                    true,
                    "user.second_factor_reset",
                    &Actor::system("storedesk user reset-mfa"),
                )
                .await?;
            println!(
                "Turned off two-step sign-in for {}; their sessions have ended. They sign in with their password and can set it up again under Account.",
                user.email
            );
            Ok(())
        }
        Command::User {
            command: UserCommand::ResetPassword { email, db },
        } => {
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let user = known_user(&store, &email).await?;
            let password = crate::auth::password::generate_password();
            let hash = crate::auth::password::hash_password(password.clone()).await?;
            store
                .reset_password(
                    user.id,
                    &hash,
                    &Actor::system("storedesk user reset-password"),
                )
                .await?;
            println!(
                "Issued a new password for {}; their sessions have ended. One-time password (shown only now; they choose their own at sign-in): {}",
                user.email,
                password.expose_secret()
            );
            Ok(())
        }
        Command::ApiToken {
            command:
                ApiTokenCommand::Add {
                    project,
                    scope,
                    name,
                    db,
                },
        } => {
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let issued = add_api_token(&store, &project, &scope, name.as_deref()).await?;
            println!(
                "Created the API token “{}” ({}) for project {} with scope {}. It is shown only now:\n{}",
                issued.row.name,
                issued.row.prefix,
                issued.row.project_slug,
                issued.row.scope,
                issued.token.expose_secret()
            );
            Ok(())
        }
        Command::MasterKey {
            command: MasterKeyCommand::Generate,
        } => {
            println!(
                "{}",
                MasterKey::generate().to_base64_secret().expose_secret()
            );
            Ok(())
        }
        Command::MasterKey {
            command:
                MasterKeyCommand::Rotate {
                    db,
                    key,
                    new_master_key_file,
                },
        } => {
            crate::telemetry::init("info", false);
            let old = key
                .load()?
                .ok_or_else(|| anyhow::anyhow!(crate::cli::NO_MASTER_KEY))?;
            let new_secret = crate::config::secret_from_env(
                "STOREDESK_NEW_MASTER_KEY",
                "STOREDESK_NEW_MASTER_KEY_FILE",
                std::env::var("STOREDESK_NEW_MASTER_KEY")
                    .ok()
                    .filter(|s| !s.is_empty()),
                new_master_key_file,
            )?
            .ok_or_else(|| anyhow::anyhow!("Pass the new master key as STOREDESK_NEW_MASTER_KEY (or a file in STOREDESK_NEW_MASTER_KEY_FILE)."))?;
            let new = MasterKey::from_base64(new_secret.expose_secret()).map_err(|_| {
                anyhow::anyhow!(
                    "STOREDESK_NEW_MASTER_KEY must be 32 random bytes in base64 (44 characters)"
                )
            })?;
            let store = Store::connect(&db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            crate::keys::ensure_master_key(
                &store,
                &crate::crypto::Keyring::new(old.clone(), Vec::new()),
            )
            .await?;
            let n = crate::keys::rotate_master_key(&store, &old, &new).await?;
            // Second-factor secrets are sealed under the same master key.
            let factors = crate::auth::second_factor::reseal_all(&store, &old, &new).await?;
            println!("Re-encrypted {n} stored key(s) and {factors} second-factor secret(s) under the new master key. Start storedesk with the new key from now on.");
            Ok(())
        }
        Command::BenchWebhookSetup(args) => {
            crate::telemetry::init("warn", false);
            let store = Store::connect(&args.db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let token = bench_webhook::prepare(&store, args.count, &args.out_dir).await?;
            println!("{token}");
            Ok(())
        }
        Command::BenchForwardSetup(args) => {
            crate::telemetry::init("warn", false);
            let store = Store::connect(&args.db.database_url("storedesk.db")?).await?;
            store.migrate().await?;
            let master_key = args
                .key
                .load()?
                .ok_or_else(|| anyhow::anyhow!(crate::cli::NO_MASTER_KEY))?;
            let keyring = crate::crypto::Keyring::new(master_key, Vec::new());
            let id = bench_forward::setup(&store, &keyring, &args.url).await?;
            println!("{id}");
            Ok(())
        }
        Command::BenchForwardReceiver { bind } => {
            crate::telemetry::init("warn", false);
            bench_forward::receive(crate::config::parse_bind(&bind)?).await
        }
        Command::AppleSim(args) => {
            crate::telemetry::init("info", false);
            crate::demo::run_simulator(args).await
        }
    }
}

/// `storedesk api-token add`: checks the arguments and makes the token (audited as the command).
pub async fn add_api_token(
    store: &Store,
    project: &str,
    scope: &str,
    name: Option<&str>,
) -> anyhow::Result<crate::auth::api_token::IssuedToken> {
    let scope = crate::domain::ApiScope::parse(scope)
        .map_err(|_| anyhow::anyhow!("--scope must be read or sign"))?;
    let name = match name {
        Some(n) => {
            crate::auth::api_token::parse_name(n).map_err(|e| anyhow::anyhow!("--name: {e}"))?
        }
        None => format!("{} token from the command line", scope.as_str()),
    };
    let project = store
        .project_by_slug(project.trim())
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--project: there is no project with the slug “{}”",
                project.trim()
            )
        })?;
    let issued = crate::auth::api_token::issue(
        store,
        project.id,
        &name,
        scope,
        &Actor::system("storedesk api-token add"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("could not create the token: {e}"))?;
    Ok(issued)
}

/// The user of an e-mail address given on the command line, or an error naming it.
async fn known_user(store: &Store, email: &str) -> anyhow::Result<crate::store::User> {
    let email = email.trim().to_ascii_lowercase();
    store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no user {email}; `storedesk user add` adds one"))
}
