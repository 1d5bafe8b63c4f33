//! `cairn user` and `cairn group`: users, groups and their grants,
//! through the identity service (as the operator).

use super::client::ServerArgs;
use super::{cli_actor, open_identity, CommonArgs};
use cairn_server::identity::Manager;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user with a random password (printed once) and its grants.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        /// A grant, PATTERN:ACTIONS (actions: read, publish, yank, delete, admin, sign). Repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Replace a user's grants.
    Grant {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Two-factor authentication (TOTP) of the signed-in user, through a
    /// running cairn (docs/two-factor.md).
    #[command(subcommand)]
    Totp(TotpCommand),
}

#[derive(Subcommand)]
pub(crate) enum TotpCommand {
    /// Start an enrolment: prints the secret and the otpauth:// URL for an
    /// authenticator app; `confirm` with its first code turns it on.
    Enable {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Turn two-factor authentication on with the app's current code;
    /// prints the recovery codes (shown only this once).
    Confirm {
        #[command(flatten)]
        server: ServerArgs,
        code: String,
    },
    /// Whether it is on, and how many recovery codes are left.
    Status {
        #[command(flatten)]
        server: ServerArgs,
        /// Another user's (for an administrator).
        #[arg(long = "for")]
        for_user: Option<String>,
    },
    /// Turn it off, with a current code (or a recovery code).
    Disable {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        otp: String,
    },
    /// Replace the recovery codes, with a current code.
    RecoveryCodes {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        otp: String,
    },
    /// Turn a user's two-factor authentication off as the operator, on the
    /// server's own stores (a lost device).
    Reset {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group (or replace its grants).
    Create {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Add a user to a group.
    AddMember {
        #[command(flatten)]
        common: CommonArgs,
        group: String,
        user: String,
    },
}

pub(crate) async fn user_command(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            common,
            name,
            grants,
        } => {
            let user = open_identity(&common)
                .await?
                .create_user(Manager::Operator, &cli_actor(), &name, &grants)
                .await?;
            super::report(
                serde_json::json!({ "name": name, "grants": grants, "password": user.password }),
                || {
                    format!(
                        "cairn: created user {name} (password shown only this once)\n  password: {}",
                        user.password
                    )
                },
            );
        }
        UserCommand::Grant {
            common,
            name,
            grants,
        } => {
            open_identity(&common)
                .await?
                .set_user_grants(Manager::Operator, &cli_actor(), &name, &grants)
                .await?;
            super::report(
                serde_json::json!({ "name": name, "grants": grants }),
                || format!("cairn: {name} now has: {}", grants.join(" ")),
            );
        }
        UserCommand::Totp(cmd) => totp_command(cmd).await?,
    }
    Ok(())
}

/// The signed-in user's name: the one `--user` names, else whoever the
/// credential (the session `cairn login` kept) stands for.
async fn signed_in(server: &ServerArgs) -> anyhow::Result<String> {
    if let Some(user) = &server.user {
        return Ok(user.clone());
    }
    let me = server
        .send_json(reqwest::Client::new().get(format!("{}/api/v1/session", server.base())))
        .await?;
    me["user"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("sign in first: cairn login --user NAME"))
}

async fn totp_command(cmd: TotpCommand) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    // `/api/v1/users/{user}/totp[/rest]`, the name encoded as one segment.
    let at = |server: &ServerArgs, user: &str, rest: &str| -> String {
        let mut url = reqwest::Url::parse(&format!("{}/", server.base())).expect("a URL");
        url.path_segments_mut()
            .expect("an http URL")
            .pop_if_empty()
            .extend(["api", "v1", "users", user, "totp"])
            .extend(rest.split('/').filter(|s| !s.is_empty()));
        url.to_string()
    };
    match cmd {
        TotpCommand::Enable { server } => {
            let user = signed_in(&server).await?;
            let v = server.send_json(http.post(at(&server, &user, ""))).await?;
            super::report(v.clone(), || {
                format!(
                    "cairn: add this to your authenticator app, then run `cairn user totp confirm CODE`\n  secret: {}\n  url:    {}",
                    v["secret"].as_str().unwrap_or_default(),
                    v["otpauth_url"].as_str().unwrap_or_default()
                )
            });
        }
        TotpCommand::Confirm { server, code } => {
            let user = signed_in(&server).await?;
            let v = server
                .send_json(
                    http.post(at(&server, &user, "/confirm"))
                        .json(&serde_json::json!({ "code": code })),
                )
                .await?;
            print_recovery_codes(&user, "two-factor authentication is on", &v);
        }
        TotpCommand::Status { server, for_user } => {
            let user = match for_user {
                Some(u) => u,
                None => signed_in(&server).await?,
            };
            let v = server.send_json(http.get(at(&server, &user, ""))).await?;
            let state = if v["enabled"] == true {
                "on"
            } else if v["pending"] == true {
                "waiting for a first code (cairn user totp confirm)"
            } else {
                "off"
            };
            super::report(v.clone(), || {
                format!(
                    "cairn: two-factor authentication for {user}: {state}; recovery codes left: {}",
                    v["recovery_codes_left"]
                )
            });
        }
        TotpCommand::Disable { server, otp } => {
            let user = signed_in(&server).await?;
            server
                .send(
                    http.delete(at(&server, &user, ""))
                        .json(&serde_json::json!({ "code": otp })),
                )
                .await?;
            super::report(
                serde_json::json!({ "user": user, "enabled": false }),
                || format!("cairn: two-factor authentication for {user} is off"),
            );
        }
        TotpCommand::RecoveryCodes { server, otp } => {
            let user = signed_in(&server).await?;
            let v = server
                .send_json(
                    http.post(at(&server, &user, "/recovery-codes"))
                        .json(&serde_json::json!({ "code": otp })),
                )
                .await?;
            print_recovery_codes(&user, "new recovery codes; the old ones no longer work", &v);
        }
        TotpCommand::Reset { common, name } => {
            open_identity(&common)
                .await?
                .disable_totp(Manager::Operator, &cli_actor(), &name, None)
                .await?;
            super::report(
                serde_json::json!({ "user": name, "enabled": false }),
                || format!("cairn: two-factor authentication for {name} is off"),
            );
        }
    }
    Ok(())
}

fn print_recovery_codes(user: &str, what: &str, v: &serde_json::Value) {
    if super::json_output(false) {
        println!("{v}");
        return;
    }
    println!("cairn: {user}: {what}. Recovery codes (each works once; shown only this once):");
    for code in v["recovery_codes"].as_array().into_iter().flatten() {
        println!("  {}", code.as_str().unwrap_or_default());
    }
}

pub(crate) async fn group_command(cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Create {
            common,
            name,
            grants,
        } => {
            open_identity(&common)
                .await?
                .put_group(Manager::Operator, &cli_actor(), &name, &grants)
                .await?;
            super::report(
                serde_json::json!({ "group": name, "grants": grants }),
                || format!("cairn: group {name} has: {}", grants.join(" ")),
            );
        }
        GroupCommand::AddMember {
            common,
            group,
            user,
        } => {
            open_identity(&common)
                .await?
                .add_group_member(Manager::Operator, &cli_actor(), &group, &user)
                .await?;
            super::report(serde_json::json!({ "group": group, "user": user }), || {
                format!("cairn: {user} is in {group}")
            });
        }
    }
    Ok(())
}
