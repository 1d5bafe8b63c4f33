//! `cairn user` and `cairn group`: users, groups and their grants,
//! through the identity service (as the operator).

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
            println!(
                "cairn: created user {name} (password shown only this once)\n  password: {}",
                user.password
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
            println!("cairn: {name} now has: {}", grants.join(" "));
        }
    }
    Ok(())
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
            println!("cairn: group {name} has: {}", grants.join(" "));
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
            println!("cairn: {user} is in {group}");
        }
    }
    Ok(())
}
