//! A contract fake of Salesforce (SOAP login, OAuth 2.0 token, REST sObjects and SOQL).
