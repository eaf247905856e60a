// SPDX-License-Identifier: MIT
/*
 * Every configuration key (config_keys.h): its name, type, default, range and help. The single
 * list `pacsd --help-config` prints and the settings tables of docs/ are kept in step with;
 * config.c parses, validates and keeps the values. Read-only data.
 */
#include "pacs/base/config_keys.h"

const pacs_config_key pacs_config__keys[] = {
    {"data", PACS_KEY_STR, "./data", 0, 0, "data folder: objects, index, temporary files"},
    {"index", PACS_KEY_STR, "", 0, 0,
     "index location: empty means DATA/index.sqlite; postgresql://user@host:port/db for a "
     "PostgreSQL index that several nodes share"},
    {"index.pool", PACS_KEY_INT, "8", 1, 256,
     "PostgreSQL connections each node keeps for queries (the writer has one more)"},
    {"index.claim_seconds", PACS_KEY_INT, "300", 1, 86400,
     "on a shared index, how long forwarding entries a node took stay its own (a node that "
     "dies holding them gives them up after this)"},
    {"node.name", PACS_KEY_STR, "", 0, 0,
     "this node's name among nodes sharing an index and object folder; empty: host name and "
     "data folder"},
    {"storage.objects", PACS_KEY_STR, "", 0, 0,
     "object folder, shared by the nodes of one archive; empty means DATA/objects"},
    {"storage.sweep_grace", PACS_KEY_INT, "3600", 60, 31536000,
     "seconds before `pacs verify --sweep` takes an unreferenced object of a shared folder, or "
     "a vanished node's intent, for an orphan"},
    {"storage.free_min", PACS_KEY_AMOUNT, "2%", 0, 0,
     "the high watermark: below this much free space new stores are refused (C-STORE 0xA700, "
     "STOW-RS 507) and /readyz fails; N% of the file system, or a size (500MB, 20GB); 0 never "
     "refuses"},
    {"storage.free_warn", PACS_KEY_AMOUNT, "10%", 0, 0,
     "below this much free space a warning is logged and shown in the metrics; N% or a size"},
    {"compress.enabled", PACS_KEY_BOOL, "false", 0, 0,
     "pacsd compresses stored instances at rest in the background (one idle-priority thread), "
     "by the compress.* rule; `pacs compress` runs the same pass by hand"},
    {"compress.syntax", PACS_KEY_STR, "jpeg-ls", 0, 0,
     "the lossless syntax objects are re-encoded in: jpeg-ls (1.2.840.10008.1.2.4.80) or htj2k "
     "(1.2.840.10008.1.2.4.201)"},
    {"compress.modalities", PACS_KEY_STR, "CT,MR,CR,DX", 0, 0,
     "comma-separated modalities (of the series) to compress; * or empty: all"},
    {"compress.after_days", PACS_KEY_INT, "30", 0, 36500,
     "compress only instances stored at least this many days ago (0: any age)"},
    {"compress.rate", PACS_KEY_INT, "600", 0, 1000000,
     "at most this many instances a minute are compressed (0: as fast as one thread goes)"},
    {"compress.interval", PACS_KEY_INT, "3600", 1, 604800,
     "seconds between pacsd's background passes (each continues where the last stopped)"},
    {"retention.rules", PACS_KEY_STR, "", 0, 0,
     "studies `pacs retention` deletes: comma-separated MODALITY:YEARS (by StudyDate; * for any "
     "modality, for studies no other rule names; the longest rule naming a study's modalities "
     "wins), :orders or :shares to take "
     "studies with an open order or a live share link too; empty: none"},
    {"log.level", PACS_KEY_STR, "info", 0, 0, "error, warn, info, debug or trace"},
    {"dimse.aet", PACS_KEY_STR, "PACS", 0, 0, "this server's AE title"},
    {"dimse.bind", PACS_KEY_STR, "0.0.0.0", 0, 0, "address the DICOM port listens on"},
    {"dimse.port", PACS_KEY_INT, "11112", 0, 65535, "DICOM port; 0 picks a free one"},
    {"dimse.max_associations", PACS_KEY_INT, "32", 1, 4096,
     "concurrent associations; more are rejected (local limit exceeded)"},
    {"dimse.max_pdu", PACS_KEY_INT, "65536", 4096, 131072,
     "largest PDU this server receives (bytes)"},
    {"dimse.timeout", PACS_KEY_INT, "60", 1, 86400, "seconds an association may stay silent"},
    {"dimse.acse_timeout", PACS_KEY_INT, "30", 1, 3600,
     "seconds a peer may take to open or close an association"},
    {"dimse.strict_called_aet", PACS_KEY_BOOL, "true", 0, 0,
     "reject associations whose called AE title is not dimse.aet"},
    {"dimse.allowed_aets", PACS_KEY_STR, "", 0, 0,
     "comma-separated calling AE titles allowed to connect; empty allows any"},
    {"dimse.access_control", PACS_KEY_BOOL, "false", 0, 0,
     "only known AEs (ae.TITLE = host:port ...) may associate, from their addresses, for the "
     "services they are allowed (allow=, from=); false: any calling AE"},
    {"dimse.plain", PACS_KEY_BOOL, "true", 0, 0,
     "open the plain (unencrypted) DICOM port dimse.port; false: TLS only"},
    {"dimse.tls.port", PACS_KEY_INT, "-1", -1, 65535,
     "DICOM TLS port (2762 is the registered one); -1: none; 0 picks a free one"},
    {"dimse.tls.cert", PACS_KEY_STR, "", 0, 0,
     "PEM certificate (chain) of this server for DICOM TLS"},
    {"dimse.tls.key", PACS_KEY_STR, "", 0, 0, "PEM private key of dimse.tls.cert (unencrypted)"},
    {"dimse.tls.ca", PACS_KEY_STR, "", 0, 0,
     "PEM CA certificates that sign peers' certificates: clients on the TLS port (see "
     "dimse.tls.verify_client) and destinations marked tls"},
    {"dimse.tls.verify_client", PACS_KEY_BOOL, "true", 0, 0,
     "require a client certificate signed by dimse.tls.ca on the TLS port; false: none asked"},
    {"dimse.tls.profile", PACS_KEY_STR, "bcp195", 0, 0,
     "TLS profile (PS3.15 B.9/B.10/B.11): bcp195, bcp195-nd or bcp195-extended"},
    {"hl7.port", PACS_KEY_INT, "2575", -1, 65535,
     "HL7 v2 (MLLP) port for orders and patients from the HIS; 0 picks a free one; -1: none"},
    {"hl7.tls.port", PACS_KEY_INT, "-1", -1, 65535,
     "HL7 v2 over TLS port (MLLP in TLS, with the certificates of dimse.tls.*); -1: none; 0 "
     "picks a free one"},
    {"hl7.bind", PACS_KEY_STR, "0.0.0.0", 0, 0, "address the HL7 ports listen on"},
    {"hl7.max_connections", PACS_KEY_INT, "16", 1, 4096,
     "concurrent HL7 connections; more are closed at once"},
    {"hl7.timeout", PACS_KEY_INT, "60", 1, 86400, "seconds an HL7 connection may stay silent"},
    {"hl7.max_message_kb", PACS_KEY_INT, "1024", 1, 65536,
     "largest HL7 message, in KiB; larger ones are answered AR and dropped"},
    {"hl7.charset", PACS_KEY_STR, "UNICODE UTF-8", 0, 0,
     "character set of HL7 messages whose MSH-18 is empty: UNICODE UTF-8, 8859/1 or ASCII"},
    {"hl7.id.bhxh", PACS_KEY_STR, "BHXH,SS,HC", 0, 0,
     "PID-3 identifiers that are the social-insurance number (the health ID's base): their "
     "assigning authorities (CX-4) or identifier type codes (CX-5), comma-separated"},
    {"hl7.id.cccd", PACS_KEY_STR, "CCCD,NI", 0, 0,
     "PID-3 identifiers that are the citizen ID: assigning authorities or type codes"},
    {"hl7.id.mrn", PACS_KEY_STR, "MR,PI", 0, 0,
     "PID-3 identifiers that are the hospital's medical record number: authorities or types"},
    {"fhir.prefix", PACS_KEY_STR, "/fhir", 0, 0,
     "where the FHIR R4 endpoint (Patient, ServiceRequest, transaction Bundles) is mounted on "
     "the HTTP port; empty: no FHIR"},
    {"fhir.max_body_kb", PACS_KEY_INT, "1024", 1, 65536,
     "largest FHIR request body, in KiB; larger ones are answered 413"},
    {"fhir.id.bhxh", PACS_KEY_STR, "http://fhir.ehealth.gov.vn/core/sid/insurance_number", 0, 0,
     "FHIR identifier systems (URIs, comma-separated; the first is written back) of the "
     "social-insurance number (default: the Ministry of Health's draft VN Core IG)"},
    {"fhir.id.cccd", PACS_KEY_STR, "urn:pacsd:id:cccd", 0, 0,
     "FHIR identifier systems (URIs, comma-separated) of the citizen ID; set to your HIS's"},
    {"fhir.id.mrn", PACS_KEY_STR, "urn:pacsd:id:mrn", 0, 0,
     "FHIR identifier systems (URIs, comma-separated) of the hospital's medical record number; "
     "set to your HIS's"},
    {"patient.id_order", PACS_KEY_STR, "bhxh,cccd,mrn", 0, 0,
     "patient identifier systems, the first one a patient has giving the PatientID that images "
     "and worklists carry (bhxh: social-insurance number, cccd: citizen ID, mrn: the "
     "hospital's record number)"},
    {"http.tls", PACS_KEY_BOOL, "false", 0, 0,
     "serve HTTPS instead of HTTP on http.port (plain HTTP is then off)"},
    {"http.tls.cert", PACS_KEY_STR, "", 0, 0, "PEM certificate (chain) of this server for HTTPS"},
    {"http.tls.key", PACS_KEY_STR, "", 0, 0, "PEM private key of http.tls.cert (unencrypted)"},
    {"http.bind", PACS_KEY_STR, "0.0.0.0", 0, 0, "address the HTTP port listens on"},
    {"http.port", PACS_KEY_INT, "8080", 0, 65535, "HTTP port for DICOMweb; 0 picks a free one"},
    {"http.prefix", PACS_KEY_STR, "/dicomweb", 0, 0, "URL path under which DICOMweb is served"},
    {"http.public_url", PACS_KEY_STR, "", 0, 0,
     "external URL of the DICOMweb root for links in answers (behind a proxy); empty: from "
     "the Host header"},
    {"http.threads", PACS_KEY_INT, "4", 1, 256,
     "HTTP worker threads (each with its own epoll set)"},
    {"http.max_connections", PACS_KEY_INT, "256", 1, 65536,
     "concurrent HTTP connections; more are refused"},
    {"http.timeout", PACS_KEY_INT, "60", 1, 86400, "seconds an HTTP connection may stay silent"},
    {"http.max_body_mb", PACS_KEY_INT, "4096", 1, 1048576,
     "largest request body (STOW-RS) in MiB; larger ones get 413"},
    {"http.cors_origins", PACS_KEY_STR, "", 0, 0,
     "comma-separated origins allowed by CORS (browser viewers elsewhere); * for any; empty: none"},
    {"http.ops_auth", PACS_KEY_BOOL, "true", 0, 0,
     "with http.auth = required, /metrics, /healthz and /readyz need a credential with the "
     "metrics scope too; false: they answer anyone who reaches the HTTP port"},
    {"http.auth", PACS_KEY_STR, "off", 0, 0,
     "off: requests without credentials are anonymous (read, write, delete); required: every "
     "DICOMweb request needs an API key, a bearer JWT or a share token (401 otherwise)"},
    {"auth.jwt_keys", PACS_KEY_STR, "", 0, 0,
     "JWKS (JSON) or PEM file of the public keys that sign accepted OAuth2 access tokens "
     "(RS256/384/512, ES256/384/512)"},
    {"auth.jwt_issuer", PACS_KEY_STR, "", 0, 0, "the iss every accepted JWT must carry"},
    {"auth.jwt_audience", PACS_KEY_STR, "", 0, 0, "the aud every accepted JWT must carry"},
    {"auth.jwt_leeway", PACS_KEY_INT, "60", 0, 600,
     "seconds of clock skew allowed for exp and nbf"},
    {"auth.session_idle", PACS_KEY_INT, "1800", 60, 86400,
     "seconds a login session (the viewer's sign-in) lives without a request"},
    {"auth.session_max_age", PACS_KEY_INT, "43200", 300, 604800,
     "seconds a login session lives at most, however busy (then the user signs in again)"},
    {"auth.session_recheck", PACS_KEY_INT, "60", 0, 3600,
     "seconds after which a session's user is looked up again in the index (a removed user's "
     "sessions end then, on every node); 0: on every request"},
    {"auth.sessions_max", PACS_KEY_INT, "10000", 1, 1000000,
     "login sessions held at once (in pacsd's memory); a login beyond them gets 503"},
    {"auth.lockout_failures", PACS_KEY_INT, "5", 0, 1000,
     "failed logins of a user within auth.lockout_window that lock the user; 0: never lock"},
    {"auth.lockout_address_failures", PACS_KEY_INT, "20", 0, 100000,
     "failed logins from one client address within auth.lockout_window that refuse every "
     "login from it for auth.lockout_minutes, whatever the user (counted in pacsd's memory); "
     "0: no limit"},
    {"auth.lockout_window", PACS_KEY_INT, "900", 1, 86400,
     "seconds within which failed logins of a user are counted"},
    {"auth.lockout_minutes", PACS_KEY_INT, "15", 1, 10080,
     "minutes a locked user's logins are refused, even with the right password"},
    {"hospital.name", PACS_KEY_STR, "", 0, 0,
     "the hospital's name as patients know it, printed at the top of share slips "
     "(pacs share --slip)"},
    {"auth.share_max_days", PACS_KEY_INT, "365", 1, 36500,
     "longest life of a share link made over HTTP ({prefix}/shares), in days"},
    {"viewer.frames", PACS_KEY_STR, "stored", 0, 0,
     "how the viewer asks for frames: stored (as stored), or a transfer syntax UID to ask every "
     "frame in, e.g. 1.2.840.10008.1.2.4.80 (JPEG-LS lossless) for viewers on slow links"},
    {"viewer.root", PACS_KEY_STR, "", 0, 0,
     "folder of the web viewer served at /viewer (OHIF's app, which the build installs); empty: "
     "../viewer or ../share/pacsd/viewer beside the pacsd binary"},
    {"viewer.oidc.authority", PACS_KEY_STR, "", 0, 0,
     "the identity provider (its issuer URL, e.g. https://idp.example/realms/pacs) the viewer "
     "signs radiologists in with (OpenID Connect, code flow with PKCE); needs "
     "viewer.oidc.client_id and auth.jwt_keys, auth.jwt_issuer, auth.jwt_audience; empty: the "
     "viewer uses pacsd's own login page"},
    {"viewer.oidc.client_id", PACS_KEY_STR, "", 0, 0,
     "the viewer's client id at the identity provider (a public client)"},
    {"viewer.oidc.scope", PACS_KEY_STR, "openid profile read", 0, 0,
     "scopes the viewer asks the identity provider for (must hold openid; read lets it see "
     "studies)"},
    {"viewer.oidc.params", PACS_KEY_STR, "", 0, 0,
     "extra parameters of the viewer's sign-in request, name=value&name=value, e.g. "
     "resource=https://pacs.example/ or audience=pacsd where the provider needs one to issue a "
     "JWT access token for pacsd"},
    {"dicomweb.max_results", PACS_KEY_INT, "1000", 0, 1000000,
     "most QIDO-RS results in one answer (0: no cap); more are asked for with offset"},
    {"dicomweb.delete_allowed", PACS_KEY_BOOL, "false", 0, 0,
     "allow DELETE of studies, series and instances over DICOMweb"},
    {"ingest.max_object_mb", PACS_KEY_INT, "4096", 1, 1048576,
     "largest object accepted, in MiB; larger ones are refused"},
    {"ingest.one_flush", PACS_KEY_BOOL, "true", 0, 0,
     "with the SQLite index on the objects' file system, make each instance and its index rows "
     "durable with one flush (rows the flush missed are checked at the next start); false: two"},
    {"forward.retry_min", PACS_KEY_INT, "5", 1, 86400,
     "seconds before the first retry of a failed forward; doubled on each failure"},
    {"forward.retry_max", PACS_KEY_INT, "600", 1, 604800,
     "longest wait between forward retries (s)"},
    {"forward.max_attempts", PACS_KEY_INT, "0", 0, 1000000,
     "attempts before a forward is marked failed (0: retry for ever)"},
};

const size_t pacs_config__n_keys = sizeof pacs_config__keys / sizeof pacs_config__keys[0];
