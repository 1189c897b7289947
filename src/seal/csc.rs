//! Mode `csc`: a remote signing service speaking the Cloud Signature
//! Consortium API, the interface qualified trust service providers offer
//! for remote seals (the key stays in their HSM). amtspost sends only the
//! SHA-256 of what is to be signed and gets the signature back:
//! `credentials/info` (certificates, key algorithm), `credentials/authorize`
//! (SAD for exactly this hash) and `signatures/signHash`.
//!
//! Requests carry the field names of API v2 (`hashes`,
//! `hashAlgorithmOID`) and of v1 (`hash`, `hashAlgo`) side by side, so the
//! configured base URL decides the version (`…/csc/v2` or `…/csc/v1`). With
//! `token_url` set, an OAuth2 access token is fetched first (client
//! credentials from the environment variables named in the configuration).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::SealError;
use super::signer::{Credential, KeyAlgorithm, Signer};

const SERVICE: &str = "Fernsignaturdienst (CSC)";
const OAUTH: &str = "Anmeldung beim Fernsignaturdienst (OAuth2)";

/// `[seal.csc]` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CscConfig {
    /// Base URL of the API, e.g. `https://csc.example/csc/v2`.
    pub url: String,
    /// The seal's credential at the service.
    pub credential_id: String,
    /// OAuth2 token endpoint (client credentials grant); none: no token.
    pub token_url: Option<String>,
    /// Environment variables holding the OAuth2 client id and secret.
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
}

/// Signs through a CSC service.
pub struct CscSigner {
    config: CscConfig,
    http: reqwest::Client,
    credential: OnceCell<Credential>,
}

fn failed(service: &'static str, url: &str, reason: impl ToString) -> SealError {
    SealError::Service {
        service,
        url: url.to_owned(),
        reason: reason.to_string(),
    }
}

impl CscSigner {
    pub fn new(config: CscConfig, http: reqwest::Client) -> Result<CscSigner, SealError> {
        if config.url.is_empty() || config.credential_id.is_empty() {
            return Err(SealError::Config(
                "mode = \"csc\" braucht [seal.csc] url und credential_id".into(),
            ));
        }
        Ok(CscSigner {
            config,
            http,
            credential: OnceCell::new(),
        })
    }

    /// An OAuth2 access token, if the service wants one.
    async fn token(&self) -> Result<Option<String>, SealError> {
        let Some(url) = &self.config.token_url else {
            return Ok(None);
        };
        let env = |name: &Option<String>, what: &str| -> Result<String, SealError> {
            let var = name
                .as_deref()
                .ok_or_else(|| SealError::Config(format!("[seal.csc] token_url braucht {what}")))?;
            std::env::var(var).map_err(|_| {
                SealError::Config(format!("die Umgebungsvariable {var} ist nicht gesetzt"))
            })
        };
        let id = env(&self.config.client_id_env, "client_id_env")?;
        let secret = env(&self.config.client_secret_env, "client_secret_env")?;
        let resp = self
            .http
            .post(url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| failed(OAUTH, url, e))?;
        if !resp.status().is_success() {
            return Err(failed(OAUTH, url, format!("HTTP {}", resp.status())));
        }
        let body: Value = resp.json().await.map_err(|e| failed(OAUTH, url, e))?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(|t| Some(t.to_owned()))
            .ok_or_else(|| failed(OAUTH, url, "die Antwort enthält kein access_token"))
    }

    /// One API call: POST `body` as JSON to `<url>/<path>`.
    async fn call(&self, token: Option<&str>, path: &str, body: Value) -> Result<Value, SealError> {
        let url = format!("{}/{path}", self.config.url.trim_end_matches('/'));
        let mut req = self.http.post(&url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| failed(SERVICE, &url, e))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(failed(
                SERVICE,
                &url,
                format!("HTTP {status} {}", text.trim()),
            ));
        }
        resp.json().await.map_err(|e| failed(SERVICE, &url, e))
    }

    async fn load_credential(&self) -> Result<Credential, SealError> {
        let token = self.token().await?;
        let info = self
            .call(
                token.as_deref(),
                "credentials/info",
                json!({"credentialID": self.config.credential_id, "certificates": "chain"}),
            )
            .await?;
        let chain: Vec<Vec<u8>> = info
            .pointer("/cert/certificates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|c| B64.decode(c))
            .collect::<Result<_, _>>()
            .map_err(|e| {
                failed(
                    SERVICE,
                    &self.config.url,
                    format!("Zertifikat nicht lesbar: {e}"),
                )
            })?;
        let leaf = chain.first().ok_or_else(|| {
            failed(
                SERVICE,
                &self.config.url,
                "credentials/info nennt kein Zertifikat",
            )
        })?;
        let algorithm = KeyAlgorithm::of_certificate(leaf)?;
        Ok(Credential { chain, algorithm })
    }
}

#[async_trait::async_trait]
impl Signer for CscSigner {
    async fn credential(&self) -> Result<Credential, SealError> {
        Ok(self
            .credential
            .get_or_try_init(|| self.load_credential())
            .await?
            .clone())
    }

    async fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SealError> {
        let algorithm = self.credential().await?.algorithm;
        let token = self.token().await?;
        let hash = B64.encode(Sha256::digest(tbs));
        const SHA256: &str = "2.16.840.1.101.3.4.2.1";
        let id = &self.config.credential_id;
        let auth = self
            .call(
                token.as_deref(),
                "credentials/authorize",
                json!({"credentialID": id, "numSignatures": 1,
                       "hash": [hash], "hashes": [hash], "hashAlgorithmOID": SHA256}),
            )
            .await?;
        let sad = auth.get("SAD").and_then(Value::as_str).ok_or_else(|| {
            failed(
                SERVICE,
                &self.config.url,
                "credentials/authorize gab kein SAD",
            )
        })?;
        let signed = self
            .call(
                token.as_deref(),
                "signatures/signHash",
                json!({"credentialID": id, "SAD": sad,
                       "hash": [hash], "hashes": [hash],
                       "hashAlgo": SHA256, "hashAlgorithmOID": SHA256,
                       "signAlgo": algorithm.oid()}),
            )
            .await?;
        let sig = signed
            .pointer("/signatures/0")
            .and_then(Value::as_str)
            .ok_or_else(|| failed(SERVICE, &self.config.url, "signHash gab keine Signatur"))?;
        B64.decode(sig).map_err(|e| {
            failed(
                SERVICE,
                &self.config.url,
                format!("Signatur nicht lesbar: {e}"),
            )
        })
    }
}
