/*
 * A stand-in for the HTTP Server API's SSL configuration (httpapi.dll), as a Linux shared library, so that
 * plugins/module_utils/_HttpSysSsl.cs runs for real under Mono (DllImport("httpapi.dll") is mapped to this
 * libhttpapi.so). It models the three SSL configuration tables (HttpServiceConfigSSLCertInfo = 1,
 * HttpServiceConfigSslSniCertInfo = 5, HttpServiceConfigSslCcsCertInfo = 6) in memory and follows the return
 * codes Microsoft documents for HttpQuery/Set/Update/DeleteServiceConfiguration:
 *   ERROR_FILE_NOT_FOUND 2        no record for the key (exact query, update, delete)
 *   ERROR_INVALID_PARAMETER 87    config id not modelled, a length that is not the x64 structure's size,
 *                                 a query type other than exact/next, an address family not AF_INET/AF_INET6,
 *                                 a non-NULL handle or OVERLAPPED (both "reserved, must be NULL")
 *   ERROR_INSUFFICIENT_BUFFER 122 output buffer too small; *pReturnLength = bytes needed
 *   ERROR_ALREADY_EXISTS 183      set on a key that has a record
 *   ERROR_NO_MORE_ITEMS 259       enumeration token past the last record
 * Assumed (not documented): calls outside HttpInitialize(HTTP_INITIALIZE_CONFIG)/HttpTerminate fail with
 * ERROR_INVALID_HANDLE 6; an SNI host matches case-insensitively (ASCII); SNI and CCS records are keyed by
 * host+port and port only (the address in their SOCKADDR_STORAGE is kept as given); enumeration order is
 * insertion order. Built with -DSTANDIN_NO_UPDATE it lacks HttpUpdateServiceConfiguration, like httpapi.dll
 * before Windows 8 / Server 2012.
 *
 * The structures use fixed-width types laid out as on Windows x64 (ULONG/DWORD = uint32_t, pointers 8 bytes,
 * GUID 16, SOCKADDR_STORAGE 128 aligned 8), checked with _Static_assert below. A query copies the record out
 * as httpapi does: the *_SET structure first, then the data its pointers point to, in the same buffer.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

#define ERROR_SUCCESS 0u
#define ERROR_FILE_NOT_FOUND 2u
#define ERROR_INVALID_HANDLE 6u
#define ERROR_INVALID_PARAMETER 87u
#define ERROR_INSUFFICIENT_BUFFER 122u
#define ERROR_ALREADY_EXISTS 183u
#define ERROR_NO_MORE_ITEMS 259u

#define WIN_AF_INET 2
#define WIN_AF_INET6 23
#define HTTP_INITIALIZE_CONFIG 2u

typedef uint16_t WCHAR16; /* a UTF-16 code unit (Windows WCHAR) */

typedef struct {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} WGUID;

typedef struct {
    uint16_t ss_family;
    uint8_t ss_pad1[6];
    int64_t ss_align;
    uint8_t ss_pad2[112];
} WSOCKADDR_STORAGE;

typedef struct {
    uint16_t HttpApiMajorVersion;
    uint16_t HttpApiMinorVersion;
} WHTTPAPI_VERSION;

typedef struct { WSOCKADDR_STORAGE *pIpPort; } SSL_KEY;
typedef struct { WSOCKADDR_STORAGE IpPort; WCHAR16 *Host; } SSL_SNI_KEY;
typedef struct { WSOCKADDR_STORAGE LocalAddress; } SSL_CCS_KEY;

typedef struct {
    uint32_t SslHashLength;
    void *pSslHash;
    WGUID AppId;
    WCHAR16 *pSslCertStoreName;
    uint32_t DefaultCertCheckMode;
    uint32_t DefaultRevocationFreshnessTime;
    uint32_t DefaultRevocationUrlRetrievalTimeout;
    WCHAR16 *pDefaultSslCtlIdentifier;
    WCHAR16 *pDefaultSslCtlStoreName;
    uint32_t DefaultFlags;
} SSL_PARAM;

typedef struct { SSL_KEY KeyDesc; SSL_PARAM ParamDesc; } SSL_SET;
typedef struct { SSL_SNI_KEY KeyDesc; SSL_PARAM ParamDesc; } SSL_SNI_SET;
typedef struct { SSL_CCS_KEY KeyDesc; SSL_PARAM ParamDesc; } SSL_CCS_SET;
typedef struct { uint32_t QueryDesc; SSL_KEY KeyDesc; uint32_t dwToken; } SSL_QUERY;
typedef struct { uint32_t QueryDesc; SSL_SNI_KEY KeyDesc; uint32_t dwToken; } SSL_SNI_QUERY;
typedef struct { uint32_t QueryDesc; SSL_CCS_KEY KeyDesc; uint32_t dwToken; } SSL_CCS_QUERY;

_Static_assert(sizeof(WGUID) == 16, "GUID");
_Static_assert(sizeof(WSOCKADDR_STORAGE) == 128 && _Alignof(WSOCKADDR_STORAGE) == 8, "SOCKADDR_STORAGE");
_Static_assert(sizeof(void *) == 8, "x64 pointers");
_Static_assert(sizeof(SSL_PARAM) == 80, "SSL_PARAM");
_Static_assert(offsetof(SSL_PARAM, AppId) == 16 && offsetof(SSL_PARAM, DefaultFlags) == 72, "SSL_PARAM offsets");
_Static_assert(sizeof(SSL_SET) == 88 && sizeof(SSL_SNI_SET) == 216 && sizeof(SSL_CCS_SET) == 208, "SET");
_Static_assert(sizeof(SSL_QUERY) == 24 && sizeof(SSL_SNI_QUERY) == 152 && sizeof(SSL_CCS_QUERY) == 144, "QUERY");

/* ---- the table */

typedef struct {
    int used;
    uint32_t config;
    WSOCKADDR_STORAGE addr;
    WCHAR16 *host;
    uint8_t *hash;
    uint32_t hash_length;
    WGUID app_id;
    WCHAR16 *store;
    WCHAR16 *ctl_id;
    WCHAR16 *ctl_store;
    uint32_t check_mode;
    uint32_t freshness;
    uint32_t url_timeout;
    uint32_t flags;
} Record;

#define MAX_RECORDS 512
static Record table[MAX_RECORDS];
static int record_count;

#define MAX_RULES 32
static struct {
    char function[64];
    int remaining; /* calls left before the failing one */
    uint32_t code;
    int active;
} rules[MAX_RULES];

static int initialized;
static uint32_t tamper_flags;
static char call_log[65536];
static size_t call_log_length;

static size_t wlen(const WCHAR16 *s) {
    size_t n = 0;
    if (!s) return 0;
    while (s[n]) n++;
    return n;
}

static WCHAR16 *wdup(const WCHAR16 *s) {
    if (!s) return NULL;
    size_t n = wlen(s);
    WCHAR16 *d = malloc((n + 1) * sizeof(WCHAR16));
    memcpy(d, s, (n + 1) * sizeof(WCHAR16));
    return d;
}

static WCHAR16 fold(WCHAR16 c) { return (c >= 'A' && c <= 'Z') ? (WCHAR16)(c + 32) : c; }

static int wcaseeq(const WCHAR16 *a, const WCHAR16 *b) {
    if (!a || !b) return a == b;
    while (*a && *b && fold(*a) == fold(*b)) a++, b++;
    return *a == 0 && *b == 0;
}

static uint16_t port_of(const WSOCKADDR_STORAGE *s) {
    const uint8_t *b = (const uint8_t *)s;
    return (uint16_t)((b[2] << 8) | b[3]);
}

static int family_ok(const WSOCKADDR_STORAGE *s) {
    return s->ss_family == WIN_AF_INET || s->ss_family == WIN_AF_INET6;
}

static int same_ip_port(const WSOCKADDR_STORAGE *a, const WSOCKADDR_STORAGE *b) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    if (a->ss_family != b->ss_family || port_of(a) != port_of(b)) return 0;
    if (a->ss_family == WIN_AF_INET) return memcmp(x + 4, y + 4, 4) == 0;
    return memcmp(x + 8, y + 8, 16) == 0 && memcmp(x + 24, y + 24, 4) == 0;
}

static void log_call(const char *function, uint32_t config, uint32_t rc) {
    if (call_log_length + 128 >= sizeof(call_log)) return;
    call_log_length += (size_t)snprintf(call_log + call_log_length, sizeof(call_log) - call_log_length,
                                        "%s{\"fn\":\"%s\",\"config\":%u,\"rc\":%u}", call_log_length ? "," : "",
                                        function, config, rc);
}

/* Every rule for `function` counts this call; the first one that reaches its nth call decides the result. */
static uint32_t injected(const char *function) {
    uint32_t code = ERROR_SUCCESS;
    for (int i = 0; i < MAX_RULES; i++) {
        if (!rules[i].active || strcmp(rules[i].function, function) != 0) continue;
        if (--rules[i].remaining == 0) {
            rules[i].active = 0;
            if (code == ERROR_SUCCESS) code = rules[i].code;
        }
    }
    return code;
}

static void free_record(Record *r) {
    free(r->host);
    free(r->hash);
    free(r->store);
    free(r->ctl_id);
    free(r->ctl_store);
    memset(r, 0, sizeof(*r));
}

static void set_param(Record *r, const SSL_PARAM *p) {
    free(r->hash);
    free(r->store);
    free(r->ctl_id);
    free(r->ctl_store);
    r->hash_length = p->pSslHash ? p->SslHashLength : 0;
    r->hash = NULL;
    if (r->hash_length) {
        r->hash = malloc(r->hash_length);
        memcpy(r->hash, p->pSslHash, r->hash_length);
    }
    r->app_id = p->AppId;
    r->store = wdup(p->pSslCertStoreName);
    r->ctl_id = wdup(p->pDefaultSslCtlIdentifier);
    r->ctl_store = wdup(p->pDefaultSslCtlStoreName);
    r->check_mode = p->DefaultCertCheckMode;
    r->freshness = p->DefaultRevocationFreshnessTime;
    r->url_timeout = p->DefaultRevocationUrlRetrievalTimeout;
    r->flags = p->DefaultFlags ^ tamper_flags;
    tamper_flags = 0;
}

/* The key of a SET or QUERY structure: sockaddr (by pointer for SSL), host for SNI. */
typedef struct {
    const WSOCKADDR_STORAGE *addr;
    const WCHAR16 *host;
} Key;

static Record *find(uint32_t config, const Key *k) {
    for (int i = 0; i < record_count; i++) {
        Record *r = &table[i];
        if (!r->used || r->config != config) continue;
        if (config == 1 && same_ip_port(&r->addr, k->addr)) return r;
        if (config == 5 && port_of(&r->addr) == port_of(k->addr) && wcaseeq(r->host, k->host)) return r;
        if (config == 6 && port_of(&r->addr) == port_of(k->addr)) return r;
    }
    return NULL;
}

static uint32_t check_key(uint32_t config, const Key *k) {
    if (!k->addr || !family_ok(k->addr)) return ERROR_INVALID_PARAMETER;
    if (config == 5 && (!k->host || !k->host[0])) return ERROR_INVALID_PARAMETER;
    return ERROR_SUCCESS;
}

/* Decodes a SET structure; ERROR_INVALID_PARAMETER when the config id or the length is wrong. */
static uint32_t decode_set(uint32_t config, const void *info, uint32_t length, Key *k, const SSL_PARAM **p) {
    if (!info) return ERROR_INVALID_PARAMETER;
    if (config == 1) {
        if (length != sizeof(SSL_SET)) return ERROR_INVALID_PARAMETER;
        const SSL_SET *s = info;
        k->addr = s->KeyDesc.pIpPort;
        k->host = NULL;
        *p = &s->ParamDesc;
    } else if (config == 5) {
        if (length != sizeof(SSL_SNI_SET)) return ERROR_INVALID_PARAMETER;
        const SSL_SNI_SET *s = info;
        k->addr = &s->KeyDesc.IpPort;
        k->host = s->KeyDesc.Host;
        *p = &s->ParamDesc;
    } else if (config == 6) {
        if (length != sizeof(SSL_CCS_SET)) return ERROR_INVALID_PARAMETER;
        const SSL_CCS_SET *s = info;
        k->addr = &s->KeyDesc.LocalAddress;
        k->host = NULL;
        *p = &s->ParamDesc;
    } else {
        return ERROR_INVALID_PARAMETER;
    }
    return check_key(config, k);
}

static uint32_t common_checks(void *handle, void *overlapped) {
    if (handle || overlapped) return ERROR_INVALID_PARAMETER;
    if (!initialized) return ERROR_INVALID_HANDLE;
    return ERROR_SUCCESS;
}

/* ---- the HTTP Server API */

EXPORT uint32_t HttpInitialize(WHTTPAPI_VERSION version, uint32_t flags, void *reserved) {
    uint32_t rc = ERROR_SUCCESS;
    if (reserved || !(flags & HTTP_INITIALIZE_CONFIG) ||
        !((version.HttpApiMajorVersion == 1 || version.HttpApiMajorVersion == 2) && version.HttpApiMinorVersion == 0))
        rc = ERROR_INVALID_PARAMETER;
    else
        initialized++;
    log_call("HttpInitialize", 0, rc);
    return rc;
}

EXPORT uint32_t HttpTerminate(uint32_t flags, void *reserved) {
    uint32_t rc = ERROR_SUCCESS;
    if (reserved || !(flags & HTTP_INITIALIZE_CONFIG) || initialized == 0)
        rc = ERROR_INVALID_PARAMETER;
    else
        initialized--;
    log_call("HttpTerminate", 0, rc);
    return rc;
}

static uint32_t set_impl(void *handle, uint32_t config, void *info, uint32_t length, void *overlapped) {
    Key k;
    const SSL_PARAM *p;
    uint32_t rc = common_checks(handle, overlapped);
    if (rc) return rc;
    if ((rc = decode_set(config, info, length, &k, &p))) return rc;
    if ((rc = injected("HttpSetServiceConfiguration"))) return rc;
    if (find(config, &k)) return ERROR_ALREADY_EXISTS;
    if (record_count >= MAX_RECORDS) return 8; /* ERROR_NOT_ENOUGH_MEMORY */
    Record *r = &table[record_count++];
    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->config = config;
    r->addr = *k.addr;
    r->host = wdup(k.host);
    set_param(r, p);
    return ERROR_SUCCESS;
}

EXPORT uint32_t HttpSetServiceConfiguration(void *handle, uint32_t config, void *info, uint32_t length, void *overlapped) {
    uint32_t rc = set_impl(handle, config, info, length, overlapped);
    log_call("HttpSetServiceConfiguration", config, rc);
    return rc;
}

#ifndef STANDIN_NO_UPDATE
EXPORT uint32_t HttpUpdateServiceConfiguration(void *handle, uint32_t config, void *info, uint32_t length, void *overlapped) {
    Key k;
    const SSL_PARAM *p;
    uint32_t rc = common_checks(handle, overlapped);
    if (!rc) rc = decode_set(config, info, length, &k, &p);
    if (!rc) rc = injected("HttpUpdateServiceConfiguration");
    if (!rc) {
        Record *r = find(config, &k);
        if (!r)
            rc = ERROR_FILE_NOT_FOUND;
        else
            set_param(r, p);
    }
    log_call("HttpUpdateServiceConfiguration", config, rc);
    return rc;
}
#endif

EXPORT uint32_t HttpDeleteServiceConfiguration(void *handle, uint32_t config, void *info, uint32_t length, void *overlapped) {
    Key k;
    const SSL_PARAM *p;
    uint32_t rc = common_checks(handle, overlapped);
    if (!rc) rc = decode_set(config, info, length, &k, &p);
    if (!rc) rc = injected("HttpDeleteServiceConfiguration");
    if (!rc) {
        Record *r = find(config, &k);
        if (!r) {
            rc = ERROR_FILE_NOT_FOUND;
        } else {
            /* keep insertion order: shift the rest down */
            int index = (int)(r - table);
            free_record(r);
            memmove(&table[index], &table[index + 1], (size_t)(record_count - index - 1) * sizeof(Record));
            record_count--;
            memset(&table[record_count], 0, sizeof(Record));
        }
    }
    log_call("HttpDeleteServiceConfiguration", config, rc);
    return rc;
}

static size_t align(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Copies a record out: the SET structure, then its sockaddr (SSL), hash and strings. */
static uint32_t copy_out(const Record *r, void *out, uint32_t out_length, uint32_t *needed_out) {
    size_t base = r->config == 1 ? sizeof(SSL_SET) : r->config == 5 ? sizeof(SSL_SNI_SET) : sizeof(SSL_CCS_SET);
    size_t pos = base;
    size_t sockaddr_at = 0, hash_at, host_at = 0, store_at = 0, ctl_id_at = 0, ctl_store_at = 0;
    if (r->config == 1) {
        sockaddr_at = pos = align(pos, 8);
        pos += sizeof(WSOCKADDR_STORAGE);
    }
    hash_at = pos;
    pos += r->hash_length;
    pos = align(pos, 2);
    if (r->host) { host_at = pos; pos += (wlen(r->host) + 1) * 2; }
    if (r->store) { store_at = pos; pos += (wlen(r->store) + 1) * 2; }
    if (r->ctl_id) { ctl_id_at = pos; pos += (wlen(r->ctl_id) + 1) * 2; }
    if (r->ctl_store) { ctl_store_at = pos; pos += (wlen(r->ctl_store) + 1) * 2; }
    if (needed_out) *needed_out = (uint32_t)pos;
    if (!out || out_length < pos) return ERROR_INSUFFICIENT_BUFFER;

    uint8_t *b = out;
    memset(b, 0, pos);
    SSL_PARAM *p;
    if (r->config == 1) {
        SSL_SET *s = out;
        memcpy(b + sockaddr_at, &r->addr, sizeof(WSOCKADDR_STORAGE));
        s->KeyDesc.pIpPort = (WSOCKADDR_STORAGE *)(b + sockaddr_at);
        p = &s->ParamDesc;
    } else if (r->config == 5) {
        SSL_SNI_SET *s = out;
        s->KeyDesc.IpPort = r->addr;
        memcpy(b + host_at, r->host, (wlen(r->host) + 1) * 2);
        s->KeyDesc.Host = (WCHAR16 *)(b + host_at);
        p = &s->ParamDesc;
    } else {
        SSL_CCS_SET *s = out;
        s->KeyDesc.LocalAddress = r->addr;
        p = &s->ParamDesc;
    }
    p->SslHashLength = r->hash_length;
    if (r->hash_length) {
        memcpy(b + hash_at, r->hash, r->hash_length);
        p->pSslHash = b + hash_at;
    }
    p->AppId = r->app_id;
    if (r->store) { memcpy(b + store_at, r->store, (wlen(r->store) + 1) * 2); p->pSslCertStoreName = (WCHAR16 *)(b + store_at); }
    if (r->ctl_id) { memcpy(b + ctl_id_at, r->ctl_id, (wlen(r->ctl_id) + 1) * 2); p->pDefaultSslCtlIdentifier = (WCHAR16 *)(b + ctl_id_at); }
    if (r->ctl_store) { memcpy(b + ctl_store_at, r->ctl_store, (wlen(r->ctl_store) + 1) * 2); p->pDefaultSslCtlStoreName = (WCHAR16 *)(b + ctl_store_at); }
    p->DefaultCertCheckMode = r->check_mode;
    p->DefaultRevocationFreshnessTime = r->freshness;
    p->DefaultRevocationUrlRetrievalTimeout = r->url_timeout;
    p->DefaultFlags = r->flags;
    return ERROR_SUCCESS;
}

static uint32_t query_impl(void *handle, uint32_t config, void *in, uint32_t in_length, void *out, uint32_t out_length,
                           uint32_t *return_length, void *overlapped) {
    uint32_t rc = common_checks(handle, overlapped);
    if (rc) return rc;
    if (!in) return ERROR_INVALID_PARAMETER;
    uint32_t type, token;
    Key k = {NULL, NULL};
    if (config == 1) {
        if (in_length != sizeof(SSL_QUERY)) return ERROR_INVALID_PARAMETER;
        const SSL_QUERY *q = in;
        type = q->QueryDesc;
        token = q->dwToken;
        k.addr = q->KeyDesc.pIpPort;
    } else if (config == 5) {
        if (in_length != sizeof(SSL_SNI_QUERY)) return ERROR_INVALID_PARAMETER;
        const SSL_SNI_QUERY *q = in;
        type = q->QueryDesc;
        token = q->dwToken;
        k.addr = &q->KeyDesc.IpPort;
        k.host = q->KeyDesc.Host;
    } else if (config == 6) {
        if (in_length != sizeof(SSL_CCS_QUERY)) return ERROR_INVALID_PARAMETER;
        const SSL_CCS_QUERY *q = in;
        type = q->QueryDesc;
        token = q->dwToken;
        k.addr = &q->KeyDesc.LocalAddress;
    } else {
        return ERROR_INVALID_PARAMETER;
    }
    const Record *found = NULL;
    if (type == 0) { /* HttpServiceConfigQueryExact */
        if ((rc = check_key(config, &k))) return rc;
        found = find(config, &k);
        if (!found) return ERROR_FILE_NOT_FOUND;
    } else if (type == 1) { /* HttpServiceConfigQueryNext */
        uint32_t seen = 0;
        for (int i = 0; i < record_count && !found; i++)
            if (table[i].used && table[i].config == config && seen++ == token) found = &table[i];
        if (!found) return ERROR_NO_MORE_ITEMS;
    } else {
        return ERROR_INVALID_PARAMETER;
    }
    return copy_out(found, out, out_length, return_length);
}

EXPORT uint32_t HttpQueryServiceConfiguration(void *handle, uint32_t config, void *in, uint32_t in_length, void *out,
                                              uint32_t out_length, uint32_t *return_length, void *overlapped) {
    uint32_t rc = query_impl(handle, config, in, in_length, out, out_length, return_length, overlapped);
    log_call("HttpQueryServiceConfiguration", config, rc);
    return rc;
}

/* ---- control exports for the tests */

EXPORT void standin_reset(void) {
    for (int i = 0; i < record_count; i++) free_record(&table[i]);
    record_count = 0;
    memset(rules, 0, sizeof(rules));
    initialized = 0;
    tamper_flags = 0;
    call_log_length = 0;
    call_log[0] = 0;
}

/* The nth call (1-based, counted from this call) of `function` returns `code` without changing anything. */
EXPORT int standin_fail_call(const char *function, int nth, uint32_t code) {
    for (int i = 0; i < MAX_RULES; i++) {
        if (rules[i].active) continue;
        snprintf(rules[i].function, sizeof(rules[i].function), "%s", function);
        rules[i].remaining = nth;
        rules[i].code = code;
        rules[i].active = 1;
        return 0;
    }
    return -1;
}

/* The next successful write stores DefaultFlags ^ xor_flags (a write that HTTP.sys silently changes). */
EXPORT void standin_tamper(uint32_t xor_flags) { tamper_flags = xor_flags; }

EXPORT int standin_initialized(void) { return initialized; }

static WCHAR16 *utf16(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    WCHAR16 *w = malloc((n + 1) * sizeof(WCHAR16));
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        if (c < 0x80) { cp = c; i += 1; }
        else if ((c >> 5) == 6 && i + 1 < n) { cp = ((c & 0x1fu) << 6) | (s[i + 1] & 0x3fu); i += 2; }
        else if ((c >> 4) == 14 && i + 2 < n) { cp = ((c & 0xfu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu); i += 3; }
        else { cp = '?'; i += 1; }
        w[j++] = (WCHAR16)cp;
    }
    w[j] = 0;
    return w;
}

static int parse_guid(const char *text, WGUID *g) {
    unsigned int d[11];
    if (!text || sscanf(text, "{%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x}", &d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6],
                        &d[7], &d[8], &d[9], &d[10]) != 11)
        return -1;
    g->Data1 = d[0];
    g->Data2 = (uint16_t)d[1];
    g->Data3 = (uint16_t)d[2];
    for (int i = 0; i < 8; i++) g->Data4[i] = (uint8_t)d[3 + i];
    return 0;
}

/* Adds a record directly (not through the API, not logged). addr: IPv4/IPv6 text (SSL), ignored otherwise
   (0.0.0.0); host: SNI host; NULL strings stay NULL. Returns 0, or -1 on bad input. */
EXPORT int standin_seed(uint32_t config, const char *addr, int port, const char *host, const char *hash_hex,
                        const char *store, const char *app_id, uint32_t check_mode, uint32_t freshness,
                        uint32_t url_timeout, const char *ctl_id, const char *ctl_store, uint32_t flags) {
    if (record_count >= MAX_RECORDS || (config != 1 && config != 5 && config != 6)) return -1;
    Record r;
    memset(&r, 0, sizeof(r));
    r.used = 1;
    r.config = config;
    uint8_t *b = (uint8_t *)&r.addr;
    b[2] = (uint8_t)(port >> 8);
    b[3] = (uint8_t)(port & 0xff);
    if (config == 1 && addr && strchr(addr, ':')) {
        r.addr.ss_family = WIN_AF_INET6;
        if (inet_pton(AF_INET6, addr, b + 8) != 1) return -1;
    } else {
        r.addr.ss_family = WIN_AF_INET;
        if (config == 1 && inet_pton(AF_INET, addr ? addr : "", b + 4) != 1) return -1;
    }
    if (config == 5) {
        if (!host || !host[0]) return -1;
        r.host = utf16(host);
    }
    if (hash_hex && hash_hex[0]) {
        size_t n = strlen(hash_hex) / 2;
        r.hash = malloc(n);
        for (size_t i = 0; i < n; i++) {
            unsigned int v;
            if (sscanf(hash_hex + 2 * i, "%2x", &v) != 1) return -1;
            r.hash[i] = (uint8_t)v;
        }
        r.hash_length = (uint32_t)n;
    }
    if (parse_guid(app_id, &r.app_id)) return -1;
    r.store = utf16(store);
    r.ctl_id = utf16(ctl_id);
    r.ctl_store = utf16(ctl_store);
    r.check_mode = check_mode;
    r.freshness = freshness;
    r.url_timeout = url_timeout;
    r.flags = flags;
    table[record_count++] = r;
    return 0;
}

static size_t put(char *buf, size_t len, size_t at, const char *text) {
    size_t n = strlen(text);
    if (buf && at + n < len) memcpy(buf + at, text, n + 1);
    return at + n;
}

static size_t put_wstring(char *buf, size_t len, size_t at, const WCHAR16 *s) {
    char tmp[16];
    if (!s) return put(buf, len, at, "null");
    at = put(buf, len, at, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || *s < 0x20 || *s > 0x7e)
            snprintf(tmp, sizeof(tmp), "\\u%04x", *s);
        else
            snprintf(tmp, sizeof(tmp), "%c", (char)*s);
        at = put(buf, len, at, tmp);
    }
    return put(buf, len, at, "\"");
}

/* The table as JSON (insertion order) into buf; returns the length needed (excluding the NUL). */
EXPORT int standin_dump(char *buf, int buf_length) {
    size_t len = buf_length > 0 ? (size_t)buf_length : 0;
    size_t at = 0;
    char tmp[256];
    if (buf && len) buf[0] = 0;
    at = put(buf, len, at, "{\"records\":[");
    for (int i = 0; i < record_count; i++) {
        const Record *r = &table[i];
        const uint8_t *b = (const uint8_t *)&r->addr;
        char ip[64] = "";
        if (r->addr.ss_family == WIN_AF_INET) inet_ntop(AF_INET, b + 4, ip, sizeof(ip));
        else inet_ntop(AF_INET6, b + 8, ip, sizeof(ip));
        snprintf(tmp, sizeof(tmp), "%s{\"config\":%u,\"family\":%u,\"ip\":\"%s\",\"port\":%u,\"host\":", i ? "," : "",
                 r->config, r->addr.ss_family, ip, port_of(&r->addr));
        at = put(buf, len, at, tmp);
        at = put_wstring(buf, len, at, r->host);
        at = put(buf, len, at, ",\"hash\":\"");
        for (uint32_t j = 0; j < r->hash_length; j++) {
            snprintf(tmp, sizeof(tmp), "%02X", r->hash[j]);
            at = put(buf, len, at, tmp);
        }
        const WGUID *g = &r->app_id;
        snprintf(tmp, sizeof(tmp), "\",\"app_id\":\"{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}\",\"store\":",
                 g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4],
                 g->Data4[5], g->Data4[6], g->Data4[7]);
        at = put(buf, len, at, tmp);
        at = put_wstring(buf, len, at, r->store);
        at = put(buf, len, at, ",\"ctl_id\":");
        at = put_wstring(buf, len, at, r->ctl_id);
        at = put(buf, len, at, ",\"ctl_store\":");
        at = put_wstring(buf, len, at, r->ctl_store);
        snprintf(tmp, sizeof(tmp), ",\"check_mode\":%u,\"freshness\":%u,\"url_timeout\":%u,\"flags\":%u}", r->check_mode,
                 r->freshness, r->url_timeout, r->flags);
        at = put(buf, len, at, tmp);
    }
    snprintf(tmp, sizeof(tmp), "],\"initialized\":%d,\"calls\":[", initialized);
    at = put(buf, len, at, tmp);
    at = put(buf, len, at, call_log);
    at = put(buf, len, at, "]}");
    return (int)at;
}
