/* Chunked transfer coding (RFC 9112 7.1): a strict, resumable decoder that never buffers data. */
#ifndef AG_DATAPLANE_HTTP_CHUNKED_H
#define AG_DATAPLANE_HTTP_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what is not data: one chunk-size line with its extensions, the trailer section. */
#define CHUNKED_LINE_MAX    4096
#define CHUNKED_TRAILER_MAX 16384

enum chunked_state {
	CHUNKED_S_SIZE,	      /* reading hex digits of a chunk-size; none seen yet when ndigits 0 */
	CHUNKED_S_EXT,	      /* after the size: chunk extensions up to CR */
	CHUNKED_S_SIZE_LF,    /* CR of the size line seen, LF must follow */
	CHUNKED_S_DATA,	      /* left bytes of chunk data to come */
	CHUNKED_S_DATA_CR,    /* chunk data done: CR must follow */
	CHUNKED_S_DATA_LF,    /* then LF */
	CHUNKED_S_TRAILER,    /* after the last chunk: a trailer line, or the empty line */
	CHUNKED_S_TRAILER_LF, /* CR of a trailer line seen (empty: the end) */
	CHUNKED_S_DONE,	      /* the whole body was read: the next byte is not the body's */
	CHUNKED_S_ERROR,      /* sticky */
};

enum chunked_rc {
	CHUNKED_AGAIN, /* every byte given was consumed; more are needed */
	CHUNKED_DATA, /* data_off and data_len name chunk data inside the input; consumed to its end
		       */
	CHUNKED_DONE, /* the body ended; *used bytes were the body's, the rest is not */
	CHUNKED_ERROR, /* malformed: the message cannot be framed; refuse it and close */
};

struct chunked {
	enum chunked_state state;
	uint64_t left;	     /* DATA: bytes of the chunk still to come */
	uint64_t size;	     /* SIZE: accumulated */
	uint32_t ndigits;    /* SIZE: hex digits read (leading zeros count) */
	uint32_t line;	     /* bytes of the current size line or trailer section */
	uint32_t trailer;    /* bytes of the trailer section so far */
	bool trailer_empty;  /* TRAILER: no byte on this line yet */
	bool trailer_colon;  /* TRAILER: the line had its colon */
	uint64_t data_total; /* data bytes of the whole body */
};

void chunked_init(struct chunked *c);

/*
 * Decodes from buf[0..len). Stops at the first data bytes it meets and names them (at most
 * max_data of them: the caller's room), so data is never copied here. *used is how many
 * input bytes were consumed, data included. Refused: sizes that are not 1*HEXDIG or above
 * 2^60, whitespace or signs around the size, bare LF or CR anywhere in framing, control bytes
 * in extensions or trailers, a missing CRLF after data, trailer fields without a colon,
 * oversized lines. Trailer fields are consumed and dropped.
 */
enum chunked_rc chunked_parse(struct chunked *c, const uint8_t *buf, size_t len, size_t max_data,
			      size_t *used, size_t *data_off, size_t *data_len);

#endif
