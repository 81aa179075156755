#ifndef NUDGE_CCURL_SHIM_H
#define NUDGE_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt / curl_easy_getinfo are variadic, which Swift cannot call.
   One typed wrapper per argument kind. */

static inline CURLcode nudge_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode nudge_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode nudge_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode nudge_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode nudge_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
/* read (upload) and header callbacks share the fread-like signature. */
static inline CURLcode nudge_curl_setopt_read_callback(CURL *h, CURLoption o, curl_read_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode nudge_curl_setopt_write_callback(CURL *h, CURLoption o, curl_write_callback v) { return curl_easy_setopt(h, o, v); }

/* the debug callback (a session's transcript, for an account check). */
static inline CURLcode nudge_curl_setopt_debug_callback(CURL *h, curl_debug_callback v) { return curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, v); }

/* the connected socket of a CURLOPT_CONNECT_ONLY handle (IMAP), to poll(2) it between
   curl_easy_send / curl_easy_recv calls. */
static inline CURLcode nudge_curl_getinfo_socket(CURL *h, curl_socket_t *out) { return curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, out); }

static inline CURLcode nudge_curl_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }

/* CURL_GLOBAL_DEFAULT is a macro expression Swift does not import. */
static inline CURLcode nudge_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

#endif
