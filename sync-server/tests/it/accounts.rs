//! Sign-up, login, tokens, sessions, profile, password change, deletion and bad input.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestServer;

const PASSWORD: &str = "a long and unusual phrase";

#[tokio::test]
async fn sign_up_log_in_refresh_and_log_out() {
    let server = TestServer::start().await;
    let c = server.client();
    let (status, body) = c
        .send(
            Method::POST,
            "/api/v1/auth/signup",
            Some(json!({"email": "Ana@Example.com", "password": PASSWORD, "display_name": "Ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["email"], "Ana@Example.com");
    assert_eq!(body["user"]["display_name"], "Ana");

    // E-mails match whatever their case; a second account for one e-mail is refused.
    let (status, body) = c
        .send(Method::POST, "/api/v1/auth/signup", Some(json!({"email": "ana@example.com", "password": PASSWORD})))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));

    let phone = c.login("ANA@example.com", "phone").await;
    let (status, profile) = phone.send(Method::GET, "/api/v1/account", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["base_currency"], "EUR");

    // The stored token hashes are not the tokens.
    let stored: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT access_hash FROM sessions").fetch_all(&server.state.pg).await.unwrap();
    assert!(stored.iter().all(|(h,)| h.len() == 32 && hex::encode(h) != *phone.token.as_ref().unwrap()));

    // Refresh tokens rotate; a used one presented again revokes the session.
    let (_, login) = c
        .send(Method::POST, "/api/v1/auth/login", Some(json!({"email": "ana@example.com", "password": PASSWORD})))
        .await;
    let first = login["tokens"]["refresh_token"].as_str().unwrap().to_string();
    let (status, rotated) = c.send(Method::POST, "/api/v1/auth/refresh", Some(json!({"refresh_token": first}))).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["refresh_token"], login["tokens"]["refresh_token"]);
    let mut fresh = c.clone();
    fresh.token = Some(rotated["access_token"].as_str().unwrap().to_string());
    assert_eq!(fresh.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::OK);
    let (status, _) = c.send(Method::POST, "/api/v1/auth/refresh", Some(json!({"refresh_token": first}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        fresh.send(Method::GET, "/api/v1/account", None).await.0,
        StatusCode::UNAUTHORIZED,
        "the whole session is revoked"
    );

    // Logging out ends the session.
    assert_eq!(phone.send(Method::POST, "/api/v1/auth/logout", None).await.0, StatusCode::NO_CONTENT);
    let (status, body) = phone.send(Method::GET, "/api/v1/account", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    server.cleanup().await;
}

#[tokio::test]
async fn login_answers_alike_for_unknown_emails_and_wrong_passwords() {
    let server = TestServer::start().await;
    server.account("bo@example.com").await;
    let c = server.client();
    let (s1, unknown) = c
        .send(Method::POST, "/api/v1/auth/login", Some(json!({"email": "nobody@example.com", "password": PASSWORD})))
        .await;
    let (s2, wrong) = c
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "bo@example.com", "password": "not the password"})),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(unknown, wrong);
    server.cleanup().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let server = TestServer::start().await;
    let c = server.client();
    for (body, status, expect) in [
        (json!({"email": "not-an-email", "password": PASSWORD}), StatusCode::UNPROCESSABLE_ENTITY, "email:"),
        (json!({"email": "x@example.com", "password": "short"}), StatusCode::UNPROCESSABLE_ENTITY, "at least 10"),
        (json!({"email": "x@example.com", "password": "password123"}), StatusCode::UNPROCESSABLE_ENTITY, "too easy"),
        (json!({"email": "x@example.com", "password": 12}), StatusCode::UNPROCESSABLE_ENTITY, "password"),
        (json!({"email": "x@example.com"}), StatusCode::UNPROCESSABLE_ENTITY, "missing field"),
    ] {
        let (got, reply) = c.send(Method::POST, "/api/v1/auth/signup", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {reply}");
        assert!(reply["message"].as_str().unwrap().contains(expect), "{body}: {reply}");
    }
    let (status, reply) = c.raw(Method::POST, "/api/v1/auth/signup", "{\"email\": ").await;
    assert!(status.is_client_error() && reply["code"] == "invalid", "{status} {reply}");
    let (status, reply) = c.send(Method::GET, "/api/v1/account", None).await;
    assert_eq!((status, reply["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let mut forged = c.clone();
    forged.token = Some("0".repeat(64));
    assert_eq!(forged.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::UNAUTHORIZED);
    let users: (i64,) = sqlx::query_as("SELECT count(*) FROM users").fetch_one(&server.state.pg).await.unwrap();
    assert_eq!(users.0, 0);
    assert_eq!(c.send(Method::GET, "/api/v1/nothing-here", None).await.1["code"], "not_found");
    server.cleanup().await;
}

#[tokio::test]
async fn profile_password_change_and_sessions() {
    let server = TestServer::start().await;
    let laptop = server.account("cy@example.com").await;
    let phone = laptop.login("cy@example.com", "phone").await;
    let (status, profile) = laptop
        .send(
            Method::PATCH,
            "/api/v1/account",
            Some(json!({"display_name": "Cy", "base_currency": "chf", "locale": "de-CH"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(
        (profile["display_name"].as_str(), profile["base_currency"].as_str(), profile["locale"].as_str()),
        (Some("Cy"), Some("CHF"), Some("de-CH"))
    );
    let (status, err) = laptop.send(Method::PATCH, "/api/v1/account", Some(json!({"base_currency": "EURO"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["message"].as_str().unwrap().starts_with("base_currency:"));

    let (_, sessions) = laptop.send(Method::GET, "/api/v1/account/sessions", None).await;
    let list = sessions.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);

    // Changing the password ends the other sessions, not this one.
    let (status, err) = laptop
        .send(
            Method::POST,
            "/api/v1/account/password",
            Some(json!({"current_password": "wrong password!", "new_password": "another long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, _) = laptop
        .send(
            Method::POST,
            "/api/v1/account/password",
            Some(json!({"current_password": PASSWORD, "new_password": "another long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(phone.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::OK);
    let (status, _) = server
        .client()
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "cy@example.com", "password": "another long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    server.cleanup().await;
}

#[tokio::test]
async fn one_account_cannot_touch_anothers_sessions() {
    let server = TestServer::start().await;
    let a = server.account("a@example.com").await;
    let b = server.account("b@example.com").await;
    let (_, b_sessions) = b.send(Method::GET, "/api/v1/account/sessions", None).await;
    let b_session = b_sessions[0]["id"].as_str().unwrap();
    let (status, _) = a.send(Method::DELETE, &format!("/api/v1/account/sessions/{b_session}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(b.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::OK);
    let (_, a_sessions) = a.send(Method::GET, "/api/v1/account/sessions", None).await;
    assert_eq!(a_sessions.as_array().unwrap().len(), 1);
    server.cleanup().await;
}

#[tokio::test]
async fn authentication_is_rate_limited() {
    let server = TestServer::start_with(|c| c.auth_per_minute = 3).await;
    let c = server.client();
    for _ in 0..3 {
        let (status, _) = c
            .send(Method::POST, "/api/v1/auth/login", Some(json!({"email": "z@example.com", "password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) =
        c.send(Method::POST, "/api/v1/auth/login", Some(json!({"email": "z@example.com", "password": PASSWORD}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    server.cleanup().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let c = server.client();
    assert_eq!(c.send(Method::GET, "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(c.send(Method::GET, "/readyz", None).await, (StatusCode::OK, serde_json::Value::String("ready".into())));
    server.cleanup().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_emailed_link() {
    let mut sink = crate::support::SmtpSink::start().await;
    let port = sink.port;
    let server = TestServer::start_with(|c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = port;
    })
    .await;
    let old_session = server.account("lea@example.com").await;
    let c = server.client();

    // Known and unknown e-mails get the same answer; only the known one gets a message.
    let (s1, known) =
        c.send(Method::POST, "/api/v1/auth/password-reset", Some(json!({"email": "LEA@example.com"}))).await;
    let (s2, unknown) =
        c.send(Method::POST, "/api/v1/auth/password-reset", Some(json!({"email": "nobody@example.com"}))).await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known, unknown);
    let mail = quoted_printable(
        &tokio::time::timeout(std::time::Duration::from_secs(10), sink.messages.recv())
            .await
            .expect("the e-mail arrives")
            .unwrap(),
    );
    assert!(mail.contains("To: lea@example.com"), "{mail}");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), sink.messages.recv()).await.is_err(),
        "one e-mail only"
    );
    let link_start = mail.find("https://expenso.example/reset-password?token=").expect("a link");
    let token: String =
        mail[link_start..].split("token=").nth(1).unwrap().chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(token.len(), 64, "{mail}");

    let (status, body) = c
        .send(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Some(json!({"token": token, "new_password": "qwertyuiop"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "weak passwords are refused here too: {body}");
    let (status, _) = c
        .send(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Some(json!({"token": token, "new_password": "a brand new long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        old_session.send(Method::GET, "/api/v1/account", None).await.0,
        StatusCode::UNAUTHORIZED,
        "sessions end"
    );
    let (status, _) = c
        .send(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "lea@example.com", "password": "a brand new long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The link works once.
    let (status, body) = c
        .send(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Some(json!({"token": token, "new_password": "yet another long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().starts_with("token:"), "{body}");

    // A link older than an hour no longer works.
    c.send(Method::POST, "/api/v1/auth/password-reset", Some(json!({"email": "lea@example.com"}))).await;
    let mail = quoted_printable(
        &tokio::time::timeout(std::time::Duration::from_secs(10), sink.messages.recv()).await.unwrap().unwrap(),
    );
    let token: String = mail.split("token=").nth(1).unwrap().chars().take_while(char::is_ascii_hexdigit).collect();
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 minute'")
        .execute(&server.state.pg)
        .await
        .unwrap();
    let (status, _) = c
        .send(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Some(json!({"token": token, "new_password": "yet another long phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    server.cleanup().await;
}

#[tokio::test]
async fn recovery_says_so_when_no_mail_server_is_set_up() {
    let server = TestServer::start().await;
    let (status, body) = server
        .client()
        .send(Method::POST, "/api/v1/auth/password-reset", Some(json!({"email": "x@example.com"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")));
    server.cleanup().await;
}

/// Undoes the quoted-printable encoding of long lines, as a mail client does.
fn quoted_printable(mail: &str) -> String {
    mail.replace("=\n", "").replace("=3D", "=")
}
