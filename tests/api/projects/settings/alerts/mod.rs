//! `/projects/{project}/settings/alerts`: adding and removing where alerts go, every refusal with its sentence and
//! nothing stored, the audit rows, the webhook URL kept secret; the deliveries are in `delivery.rs` (webhooks)
//! and `smtp.rs` (e-mail), against real peers on loopback (`peers.rs`).
mod delivery;
pub mod peers;
mod smtp;

use secrecy::SecretString;
use storedesk::config::{Settings, SmtpSettings, SmtpTls};
use storedesk::domain::Role;
use storedesk::store::{AuditFilter, Project};

use crate::helpers::{
    assert_redirect_to, create_project, project_for, spawn_app_with, store_key, Backend, Ready,
    TestApp,
};
use crate::on_both_backends;
use crate::projects::notifications::signed::esc;

pub const PAGE: &str = "/projects/demo/settings/alerts";
pub const EMAIL: &str = "/projects/demo/settings/alerts/email";
pub const WEBHOOKS: &str = "/projects/demo/settings/alerts/webhooks";

/// A mail server the app may use; tests that send mail point it at a real one (`smtp.rs`).
pub fn smtp_on(port: u16, user: Option<(&str, &str)>) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: user.map(|(u, _)| u.to_owned()),
        password: user.map(|(_, p)| SecretString::from(p.to_owned())),
        from: "storedesk alerts <alerts@storedesk.test>".into(),
    }
}

/// `ready()` (app, simulator, project `demo` with a key, an admin) with the app's settings adjusted first.
pub async fn ready_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings) + Send + 'static,
) -> Option<Ready> {
    let sim = storedesk::apple_sim::spawn(storedesk::apple_sim::SimConfig::default())
        .await
        .unwrap();
    let (production, sandbox, root) = (sim.production_url(), sim.sandbox_url(), sim.root_ca_der());
    let app = spawn_app_with(backend, move |s| {
        s.apple.production_url = production;
        s.apple.sandbox_url = sandbox;
        s.apple.extra_roots = vec![root];
        adjust(s);
    })
    .await?;
    let admin = app.session(Role::Admin).await;
    let project = project_for(&app, &sim, &admin).await;
    store_key(&app, &project, &sim.issue_key()).await;
    Some(Ready {
        app,
        sim,
        admin,
        project,
    })
}

/// An app whose server may send e-mail (to a port where nothing listens), with the project `demo`.
async fn app_with_smtp(backend: Backend) -> Option<(TestApp, Project)> {
    let app = spawn_app_with(backend, |s| {
        s.alerts.smtp = Some(smtp_on(
            crate::projects::settings::alerts::peers::closed_port(),
            None,
        ))
    })
    .await?;
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let project = app.store.project_by_slug("demo").await.unwrap().unwrap();
    Some((app, project))
}

macro_rules! with_smtp {
    ($name:ident, |$app:ident, $project:ident| $body:block) => {
        on_both_backends!($name, |backend| app_with_smtp(backend), ($app, $project) => $body);
    };
}

/// A form's fields, as posted.
type Form<'a> = &'a [(&'a str, &'a str)];

const ALL_EVENTS: &[(&str, &str)] = &[
    ("consumption_requests", "on"),
    ("key_problems", "on"),
    ("notification_gaps", "on"),
];

fn fields<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().chain(ALL_EVENTS).copied().collect()
}

async fn actions(app: &TestApp, prefix: &str) -> Vec<(String, String, String)> {
    app.store
        .list_audit(&AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with(prefix))
        .map(|e| (e.action, e.target, e.detail))
        .collect()
}

/// Posts a form and checks that it was refused with `sentence` next to its field, and that nothing was stored.
async fn refused(
    app: &TestApp,
    project: &Project,
    action: &str,
    form: &[(&str, &str)],
    field_id: &str,
    sentence: &str,
) {
    let lead = app.session(Role::Lead).await;
    let before = app.store.alert_channels(project.id).await.unwrap().len();
    let audited = actions(app, "alerts.").await.len();
    let r = lead.post_form(PAGE, action, form).await;
    assert_eq!(r.status().as_u16(), 422, "{form:?}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<p class=\"field-error\" id=\"{field_id}\">{}</p>",
            esc(sentence)
        )),
        "{form:?} should be refused with {sentence:?}: {html}"
    );
    assert!(html.contains("aria-invalid=\"true\"") || field_id.ends_with("events-error"));
    assert_eq!(
        app.store.alert_channels(project.id).await.unwrap().len(),
        before
    );
    assert_eq!(
        actions(app, "alerts.").await.len(),
        audited,
        "a refusal was audited"
    );
}

with_smtp!(
    every_bad_recipient_is_refused_with_its_sentence_and_nothing_is_stored,
    |app, project| {
        let cases: &[(Form, &str, &str)] = &[
            (&[("email", "")], "email-error", "Enter an email address."),
            (
                &[("email", "   ")],
                "email-error",
                "Enter an email address.",
            ),
            (
                &[("email", "ops at example.com")],
                "email-error",
                "Enter an email address like name@example.com.",
            ),
            (
                &[("email", "ops@localhost")],
                "email-error",
                "Enter an email address like name@example.com.",
            ),
        ];
        for (form, field, sentence) in cases {
            refused(&app, &project, EMAIL, &fields(form), field, sentence).await;
        }
        let long = format!("{}@example.com", "a".repeat(250));
        refused(
            &app,
            &project,
            EMAIL,
            &fields(&[("email", &long)]),
            "email-error",
            "An email address is at most 254 characters long.",
        )
        .await;
        refused(
            &app,
            &project,
            EMAIL,
            &[("email", "ops@example.com")],
            "email-events-error",
            "Tick at least one kind of alert to send.",
        )
        .await;
        // A refused form keeps what was typed and ticked.
        let lead = app.session(Role::Lead).await;
        let html = lead
            .post_form(
                PAGE,
                EMAIL,
                &[("email", "ops@example"), ("key_problems", "on")],
            )
            .await
            .text()
            .await
            .unwrap();
        let email_form = html
            .split("action=\"/projects/demo/settings/alerts/email\"")
            .nth(1)
            .and_then(|rest| rest.split("</form>").next())
            .unwrap();
        assert!(email_form.contains("value=\"ops@example\""));
        assert!(email_form.contains("name=\"key_problems\" value=\"on\" checked>"));
        assert!(email_form.contains("name=\"notification_gaps\" value=\"on\">"));
    }
);

crate::both_backends!(
    an_address_is_refused_while_the_server_cannot_send_mail,
    |app| {
        let admin = app.session(Role::Admin).await;
        assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
        let project = app.store.project_by_slug("demo").await.unwrap().unwrap();
        let html = admin.get_text(PAGE).await;
        assert!(html.contains("This server cannot send e-mail"));
        refused(
        &app,
        &project,
        EMAIL,
        &fields(&[("email", "ops@example.com")]),
        "email-error",
        "This server cannot send e-mail yet: whoever runs storedesk must set STOREDESK_SMTP_URL and STOREDESK_SMTP_FROM. Until then, add a webhook instead.",
    )
    .await;
        // Webhooks work without a mail server.
        let r = admin
            .post_form(
                PAGE,
                WEBHOOKS,
                &fields(&[(
                    "url",
                    "https://hooks.example.com/services/T1/B1/abcdefghijklmnop",
                )]),
            )
            .await;
        assert_redirect_to(&r, PAGE);
    }
);

with_smtp!(
    every_bad_webhook_is_refused_with_its_sentence_and_nothing_is_stored,
    |app, project| {
        let cases: &[(&str, &str)] = &[
        ("", "Paste the webhook's URL: the https:// address that Slack (or a Slack-compatible service) gives for an incoming webhook."),
        ("hooks.slack.com/services/T0/B0/x", "This is not a webhook URL. Paste the whole address, starting with https://."),
        ("https://hooks.slack.com/a b", "This is not a webhook URL. Paste the whole address, starting with https://."),
        ("ftp://hooks.example.com/x", "This is not a webhook URL. Paste the whole address, starting with https://."),
        ("http://hooks.slack.com/services/T0/B0/x", "The webhook's URL must start with https://: it is a secret, and http:// would send it and every alert unencrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1])."),
        ("http://192.168.1.20/hook", "The webhook's URL must start with https://: it is a secret, and http:// would send it and every alert unencrypted. Plain http:// is accepted only for this machine (localhost, 127.0.0.1 or [::1])."),
    ];
        for (url, sentence) in cases {
            refused(
                &app,
                &project,
                WEBHOOKS,
                &fields(&[("url", url)]),
                "url-error",
                sentence,
            )
            .await;
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
        refused(
            &app,
            &project,
            WEBHOOKS,
            &fields(&[("url", &long)]),
            "url-error",
            "A webhook's URL is at most 2,048 characters long.",
        )
        .await;
        refused(
            &app,
            &project,
            WEBHOOKS,
            &[(
                "url",
                "https://hooks.example.com/services/T1/B1/abcdefghijklmnop",
            )],
            "url-events-error",
            "Tick at least one kind of alert to send.",
        )
        .await;
        // The URL is a secret: a refused form never shows it back.
        let lead = app.session(Role::Lead).await;
        let html = lead
            .post_form(
                PAGE,
                WEBHOOKS,
                &fields(&[("url", "http://hooks.example.com/secret-path-1234")]),
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("secret-path"));
    }
);

with_smtp!(
    channels_are_added_listed_and_removed_with_audit_rows,
    |app, project| {
        let lead = app.session(Role::Lead).await;
        let secret = "https://hooks.slack.com/services/T0AAA/B0BBB/zyxwvutsrqponmlkWXYZ";

        let r = lead
            .post_form(
                PAGE,
                EMAIL,
                &[
                    ("email", " Ops@Example.com "),
                    ("consumption_requests", "on"),
                ],
            )
            .await;
        assert_redirect_to(&r, PAGE);
        let html = lead.get_text(PAGE).await;
        assert!(
            html.contains("ops@example.com will get alerts for consumption requests."),
            "{html}"
        );
        assert!(html.contains("E-mail: <span class=\"id wrap-anywhere\">ops@example.com</span>"));
        assert!(html.contains("<dt>Gets</dt><dd>consumption requests</dd>"));
        assert!(html.contains("nothing sent yet"));

        let r = lead
            .post_form(
                PAGE,
                WEBHOOKS,
                &[
                    ("url", secret),
                    ("key_problems", "on"),
                    ("notification_gaps", "on"),
                ],
            )
            .await;
        assert_redirect_to(&r, PAGE);
        let html = lead.get_text(PAGE).await;
        assert!(html.contains(&esc(
        "The webhook https://hooks.slack.com/…WXYZ will get alerts for key problems, notification gaps. Its URL is stored encrypted and will not be shown again."
    )), "{html}");
        assert!(html.contains(
            "Webhook: <span class=\"id wrap-anywhere\">https://hooks.slack.com/…WXYZ</span>"
        ));
        // Never again whole: not on the page, not in the audit log, not in the database's text.
        let again = lead.get_text(PAGE).await;
        assert!(!again.contains("B0BBB") && !again.contains("zyxwvut"));
        let channels = app.store.alert_channels(project.id).await.unwrap();
        assert_eq!(channels.len(), 2);
        let webhook = &channels[1];
        assert_eq!(webhook.label, "https://hooks.slack.com/…WXYZ");
        let sealed = webhook.sealed_url.clone().unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("B0BBB"));

        // The same target twice is refused, whatever the case of the address or the spaces around a URL.
        refused(
            &app,
            &project,
            EMAIL,
            &fields(&[("email", "OPS@example.com")]),
            "email-error",
            "This address already gets alerts for this project.",
        )
        .await;
        refused(
            &app,
            &project,
            WEBHOOKS,
            &fields(&[("url", &format!(" {secret} "))]),
            "url-error",
            "This webhook already gets alerts for this project.",
        )
        .await;

        let lead_email = crate::helpers::role_email(Role::Lead);
        assert_eq!(
            actions(&app, "alerts.").await,
            vec![
                (
                    "alerts.channel_add".to_owned(),
                    "https://hooks.slack.com/…WXYZ".to_owned(),
                    "webhook; events: key problems, notification gaps".to_owned()
                ),
                (
                    "alerts.channel_add".to_owned(),
                    "ops@example.com".to_owned(),
                    "email; events: consumption requests".to_owned()
                ),
            ]
        );
        let rows = app
            .store
            .list_audit(&AuditFilter {
                action: Some("alerts.channel_add".into()),
                limit: 10,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert!(rows
            .iter()
            .all(|r| r.user_email == lead_email && r.project_id == Some(project.id)));

        // Removing stops a channel's alerts, says so, and is audited.
        let remove = format!("{PAGE}/{}/remove", channels[0].id);
        let r = lead.post_form(PAGE, &remove, &[]).await;
        assert_redirect_to(&r, PAGE);
        let html = lead.get_text(PAGE).await;
        assert!(html.contains("ops@example.com will get no more alerts from this project."));
        assert!(!html.contains("E-mail: <span"));
        assert_eq!(app.store.alert_channels(project.id).await.unwrap().len(), 1);
        assert_eq!(
            actions(&app, "alerts.channel_remove").await,
            vec![(
                "alerts.channel_remove".to_owned(),
                "ops@example.com".to_owned(),
                "email; events: consumption requests".to_owned()
            )]
        );
        // A channel that is gone, or of another project, is not found.
        assert_eq!(
            lead.post_form(PAGE, &remove, &[]).await.status().as_u16(),
            404
        );
        let admin = app.session(Role::Admin).await;
        let other = admin
            .post_form(
                "/projects/new",
                "/projects",
                &[
                    ("name", "Other"),
                    ("slug", "other"),
                    ("bundle_id", "com.example.other"),
                    ("app_apple_id", ""),
                    ("environment", "Production"),
                ],
            )
            .await;
        assert_eq!(other.status().as_u16(), 303);
        let theirs = format!("/projects/other/settings/alerts/{}/remove", webhook.id);
        assert_eq!(
            admin.post_form(PAGE, &theirs, &[]).await.status().as_u16(),
            404
        );
        assert_eq!(app.store.alert_channels(project.id).await.unwrap().len(), 1);
    }
);

with_smtp!(
    a_project_sends_alerts_to_at_most_twenty_places,
    |app, project| {
        let lead = app.session(Role::Lead).await;
        for i in 0..20 {
            let r = lead
                .post_form(
                    PAGE,
                    EMAIL,
                    &fields(&[("email", &format!("ops{i}@example.com"))]),
                )
                .await;
            assert_redirect_to(&r, PAGE);
        }
        refused(
            &app,
            &project,
            WEBHOOKS,
            &fields(&[(
                "url",
                "https://hooks.example.com/services/T1/B1/abcdefghijklmnop",
            )]),
            "url-error",
            "A project can send alerts to at most 20 places. Remove one before adding another.",
        )
        .await;
    }
);

crate::both_backends!(
    the_page_is_linked_from_the_navigation_and_the_overview_for_managers_only,
    |app| {
        let admin = app.session(Role::Admin).await;
        assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
        for role in [Role::Admin, Role::Lead] {
            let s = app.session(role).await;
            let overview = s.get_text("/projects/demo").await;
            assert!(
                overview.contains("<a href=\"/projects/demo/settings/alerts\">Alerts</a>"),
                "{overview}"
            );
            assert!(overview.contains("No alerts are sent for this project yet."));
            let page = s.get_text(PAGE).await;
            assert!(page.contains(
                "<a href=\"/projects/demo/settings/alerts\" aria-current=\"page\">Alerts</a>"
            ));
            assert!(page.contains("No alerts are sent for this project yet. Add an e-mail recipient or a webhook below."));
        }
        let support = app.session(Role::Support).await;
        assert!(!support
            .get_text("/projects/demo")
            .await
            .contains("/settings/alerts"));
        assert_eq!(support.get(PAGE).await.status().as_u16(), 403);
    }
);

#[tokio::test]
async fn serve_refuses_wrong_mail_settings_naming_the_variable_and_never_the_password() {
    let key = secrecy::ExposeSecret::expose_secret(
        &storedesk::crypto::MasterKey::generate().to_base64_secret(),
    )
    .to_owned();
    let cases: &[(Form, &str)] = &[
        (
            &[("STOREDESK_SMTP_URL", "mail.example.com:587"), ("STOREDESK_SMTP_FROM", "alerts@example.com")],
            "STOREDESK_SMTP_URL is set but wrong: it should be smtp://user:password@host:587 (STARTTLS)",
        ),
        (
            &[("STOREDESK_SMTP_URL", "smtp://alerts:hunter2-secret@mail.example.com?tls=none"), ("STOREDESK_SMTP_FROM", "alerts@example.com")],
            "STOREDESK_SMTP_URL is set but wrong: it should be a URL that does not send a password unencrypted to another machine",
        ),
        (
            &[("STOREDESK_SMTP_URL", "smtp://alerts:hunter2-secret@mail.example.com")],
            "STOREDESK_SMTP_FROM is set but wrong: it should be set too when STOREDESK_SMTP_URL is",
        ),
        (
            &[("STOREDESK_SMTP_URL", "smtp://mail.example.com"), ("STOREDESK_SMTP_FROM", "alerts at example")],
            "STOREDESK_SMTP_FROM is set but wrong: it should be the sender of alert e-mails",
        ),
        (
            &[("STOREDESK_ALERTS_INTERVAL", "soon")],
            "STOREDESK_ALERTS_INTERVAL is set but wrong: it should be a duration of at least 10 seconds",
        ),
    ];
    for (vars, sentence) in cases {
        let mut all = vars.to_vec();
        all.push(("STOREDESK_MASTER_KEY", key.as_str()));
        let output = crate::projects::keys::serve_with(&all).await;
        assert!(!output.status.success(), "{vars:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(sentence), "{vars:?}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the password is not echoed: {stderr}"
        );
    }
}

with_smtp!(
    a_master_key_rotation_reseals_the_webhooks,
    |app, project| {
        let lead = app.session(Role::Lead).await;
        let url = "https://hooks.example.com/services/T1/B1/abcdefghijklmnop";
        let r = lead
            .post_form(PAGE, WEBHOOKS, &fields(&[("url", url)]))
            .await;
        assert_redirect_to(&r, PAGE);
        let (old, new) = (
            app.settings.master_key.clone(),
            storedesk::crypto::MasterKey::generate(),
        );
        let open = |keyring: storedesk::crypto::Keyring,
                    c: &storedesk::store::alerts::ChannelRow| {
            storedesk::keys::open_webhook_url(
                &keyring,
                project.id,
                c.id,
                c.sealed_url.as_deref().unwrap(),
                c.master_key_id.as_deref().unwrap(),
            )
            .map(|u| secrecy::ExposeSecret::expose_secret(&u).to_owned())
        };
        let before = app.store.alert_channels(project.id).await.unwrap()[0].clone();
        assert_eq!(open(app.settings.keyring(), &before).unwrap(), url);

        storedesk::keys::rotate_master_key(&app.store, &old, &new)
            .await
            .unwrap();

        let after = app.store.alert_channels(project.id).await.unwrap()[0].clone();
        assert_eq!(after.master_key_id, Some(new.key_id()));
        assert_ne!(after.sealed_url, before.sealed_url);
        assert_eq!(
            open(storedesk::crypto::Keyring::new(new.clone(), vec![]), &after).unwrap(),
            url
        );
        assert!(open(storedesk::crypto::Keyring::new(old, vec![]), &after).is_err());
        let rotated = app
            .store
            .list_audit(&AuditFilter {
                action: Some("master_key.rotate".into()),
                limit: 1,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            rotated[0].detail,
            "0 key(s), 0 App Store Connect API key(s), 1 alert webhook URL(s) and 0 forwarding secret(s) re-sealed"
        );
    }
);
