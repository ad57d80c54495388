//! The model's outputs made from the vault's records (the vault is below
//! `app` and above `model`, so the conversions live here).

use crate::model::{
    CreateSecretOutput, CredentialItem, SecretItem, StoreCredentialOutput, rfc3339,
};
use crate::vault::{Credential, Secret, Stored};

impl StoreCredentialOutput {
    /// The reply to a store under `service_id` (as the caller wrote it).
    pub fn new(service_id: String, stored: Stored) -> Self {
        let c = stored.credential;
        Self {
            success: true,
            id: c.id.to_string(),
            service_id,
            service: c.service,
            service_name: c.service_name,
            name: c.name,
            credential_type: c.credential_type,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_used_at: c.last_used_at,
            replaced: stored.replaced,
        }
    }
}

impl From<&Credential> for CredentialItem {
    fn from(c: &Credential) -> Self {
        Self {
            id: c.id.to_string(),
            service: c.service.clone(),
            name: c.name.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            service_name: c.service_name.clone(),
            credential_type: c.credential_type,
            updated_at: c.updated_at,
        }
    }
}

impl From<&Secret> for CreateSecretOutput {
    fn from(s: &Secret) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.clone(),
            provider: s.provider.clone(),
            masked_value: s.masked_value.clone(),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

impl From<&Secret> for SecretItem {
    fn from(s: &Secret) -> Self {
        Self {
            id: s.id.to_string(),
            name: s.name.clone(),
            provider: s.provider.clone(),
            masked_value: s.masked_value.clone(),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            last_used_at: s.last_used_at.map(rfc3339),
        }
    }
}
