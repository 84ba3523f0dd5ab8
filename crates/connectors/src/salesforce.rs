//! The Salesforce connector (SOAP login or OAuth 2.0 client credentials, REST API).
