//! The actions on directories that never load a plugin: names, holds, refusals. Deploying
//! real plugins through the admin API is tested end to end (`tests/admin_api.rs`).

use super::*;
use crate::plugin::Prober;

/// An apps directory under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("berth-actions-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// A context directory `name` whose descriptor is `descriptor`.
    fn context(&self, name: &str, descriptor: &str) {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).expect("context dir");
        std::fs::write(dir.join("jeus-web-dd.xml"), descriptor).expect("descriptor");
    }

    fn deployer(&self) -> Deployer {
        Deployer::new(&self.0, Prober::this_binary())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An unknown element on line 3, column 3.
const TYPO: &str =
    "<jeus-web-dd>\n<websocket>\n  <max-sesions>5</max-sesions>\n</websocket>\n</jeus-web-dd>\n";

#[test]
fn a_context_name_is_one_visible_path_component() {
    assert!(is_context_name("echo"));
    assert!(is_context_name("foo#bar"));
    assert!(is_context_name("ROOT"));
    for bad in ["", ".", "..", ".hidden", "a/b", "../etc", "a\0b"] {
        assert!(!is_context_name(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn names_no_directory_can_have_are_unknown_to_every_action() {
    let apps = Scratch::new("names");
    let mut deployer = apps.deployer();
    for name in ["..", "a/b", ".hidden", ""] {
        assert!(matches!(
            deployer.deploy(name).await,
            Err(ActionError::Unknown(_))
        ));
        assert!(matches!(
            deployer.redeploy(name).await,
            Err(ActionError::Unknown(_))
        ));
        assert!(matches!(
            deployer.undeploy(name),
            Err(ActionError::Unknown(_))
        ));
    }
    assert!(matches!(
        deployer.undeploy("absent"),
        Err(ActionError::Unknown(_))
    ));
    assert!(matches!(
        deployer.redeploy("absent").await,
        Err(ActionError::Unknown(_))
    ));
    assert!(matches!(
        deployer.deploy("absent").await,
        Err(ActionError::NoDirectory(_))
    ));
    assert!(deployer.reports().is_empty());
}

#[tokio::test]
async fn a_refused_deploy_answers_with_positioned_diagnostics_and_reports_failed() {
    let apps = Scratch::new("refused");
    apps.context("bad", TYPO);
    let mut deployer = apps.deployer();
    let Err(ActionError::Refused(report)) = deployer.deploy("bad").await else {
        panic!("a descriptor with an error is refused");
    };
    assert_eq!(report.state, ContextState::Failed);
    let failure = report.last_error.as_ref().expect("the last error");
    assert!(!failure.clash);
    let first = &failure.diagnostics[0];
    assert!(first.file.ends_with("bad/jeus-web-dd.xml"), "{first}");
    assert_eq!(first.position.map(|p| (p.line, p.column)), Some((3, 3)));
    assert_eq!(deployer.reports(), vec![*report]);
}

#[tokio::test]
async fn only_a_running_context_can_be_redeployed() {
    let apps = Scratch::new("not-running");
    apps.context("bad", TYPO);
    let mut deployer = apps.deployer();
    deployer.rescan().await.expect("the apps directory reads");
    let Err(ActionError::NotRunning { report, .. }) = deployer.redeploy("bad").await else {
        panic!("a failed context is not redeployed");
    };
    assert_eq!(report.map(|r| r.state), Some(ContextState::Failed));
}

#[tokio::test]
async fn an_undeployed_context_is_held_back_from_rescans_until_deployed() {
    let apps = Scratch::new("hold");
    apps.context("later", TYPO);
    let mut deployer = apps.deployer();
    let held = deployer
        .undeploy("later")
        .expect("a directory can be held back");
    assert_eq!(
        (held.state, held.held, held.last_error),
        (ContextState::Undeployed, true, None)
    );
    deployer.rescan().await.expect("the apps directory reads");
    let after = deployer.report("later").expect("still known");
    assert_eq!(
        after.state,
        ContextState::Undeployed,
        "the rescan left it alone"
    );
    assert!(after.last_error.is_none(), "{after:?}");
    assert!(matches!(
        deployer.deploy("later").await,
        Err(ActionError::Refused(_))
    ));
    let released = deployer.report("later").expect("still known");
    assert_eq!(
        (released.state, released.held),
        (ContextState::Failed, false)
    );
}
