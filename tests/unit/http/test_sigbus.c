/* Unit tests for the SIGBUS guard: store mappings survive truncation, other faults still kill. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "dataplane/http/store.h"
#include "dataplane/http/sigbus.h"

static char tmpdir[64];
static long page;

/* A file of `pages` pages, each filled with 'a' + its index. */
static void
make_file(const char *path, unsigned int pages)
{
	char *buf = malloc((size_t)page);
	unsigned int i;
	int fd;

	assert_non_null(buf);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	for (i = 0; i < pages; i++) {
		memset(buf, 'a' + (int)i, (size_t)page);
		assert_int_equal(write(fd, buf, (size_t)page), page);
	}
	close(fd);
	free(buf);
}

/* Reads through a volatile pointer so the compiler cannot skip the faulting load. */
/* cmocka puts its own SIGBUS handler in place around every test: ours goes on top */
static void
guard(void)
{
	assert_int_equal(sigbus_install(), 0);
}

static unsigned char
peek(const uint8_t *p)
{
	return *(const volatile uint8_t *)p;
}

static void
test_store_file_truncated_while_mapped(void **state)
{
	struct site_conf site = {.prefix = "/pkg"};
	struct store_conf conf = {.sites = &site, .nsites = 1};
	struct store_file *f = NULL;
	struct store *st;
	char path[128];
	uint64_t before = sigbus_count();
	size_t i, nonzero = 0;

	(void)state;
	snprintf(site.root, sizeof(site.root), "%s", tmpdir);
	guard();
	snprintf(path, sizeof(path), "%s/big.bin", tmpdir);
	make_file(path, 4);
	st = store_create(&conf);
	assert_non_null(st);
	assert_int_equal(store_open(st, "/pkg/big.bin", 12, &f), 0);
	assert_int_equal(f->size, 4 * page);
	assert_int_equal(peek(f->data + 2 * page), 'c');

	/* someone rewrites the package in place while we serve it */
	assert_int_equal(truncate(path, page), 0);

	assert_int_equal(peek(f->data), 'a'); /* still in the file */
	/* the sender goes forward: the first page gone is the first one it touches */
	assert_int_equal(peek(f->data + page), 0);
	assert_int_equal(sigbus_count(), before + 1);
	/* the rest of the mapping was repaired with that one fault */
	for (i = (size_t)page; i < f->size; i++)
		nonzero += peek(f->data + i) != 0;
	assert_int_equal(nonzero, 0);
	assert_int_equal(sigbus_count(), before + 1);
	/* and the sender learns the data it read is not the file's */
	assert_int_equal(store_file_check(f), -ESTALE);

	store_file_put(f);
	store_destroy(st);
	unlink(path);
}

static void
test_registered_mapping_reads_zeros(void **state)
{
	char path[128];
	uint64_t before = sigbus_count();
	uint8_t *m;
	int fd;

	(void)state;
	guard();
	snprintf(path, sizeof(path), "%s/reg.bin", tmpdir);
	make_file(path, 2);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	m = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(sigbus_register(m, 2 * (size_t)page), 0);
	assert_int_equal(truncate(path, 0), 0);

	assert_int_equal(peek(m), 0);
	assert_int_equal(peek(m + page), 0);
	assert_int_equal(sigbus_count(), before + 1);

	sigbus_unregister(m, 2 * (size_t)page);
	munmap(m, 2 * (size_t)page);
	close(fd);
	unlink(path);
}

static void
test_register_rejects_nonsense(void **state)
{
	char c;

	(void)state;
	assert_int_equal(sigbus_register(NULL, 4096), -EINVAL);
	assert_int_equal(sigbus_register(&c, 0), -EINVAL);
	/* unregistering what was never registered is harmless */
	sigbus_unregister(&c, 1);
}

/*
 * Runs fn in a child and returns its wait status. The child must not dump core: it is
 * expected to die.
 */
static int
in_child(void (*fn)(void))
{
	struct rlimit no_core = {0, 0};
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		/* as in the gateway: nothing behind our handler but the default action */
		signal(SIGBUS, SIG_DFL);
		if (sigbus_install() != 0)
			_exit(4);
		fn();
		_exit(0); /* survived: the test fails */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
assert_died_of_sigbus(int status)
{
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's own SIGBUS handler reports and exits; what matters is the child did not live */
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
#endif
}

static void
touch_truncated(int do_register)
{
	char path[128];
	uint8_t *m;
	int fd;

	snprintf(path, sizeof(path), "%s/child%d.bin", tmpdir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 2 * page) != 0)
		_exit(3);
	m = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(3);
	if (do_register) {
		/* registered once, forgotten: must be as unprotected as never registered */
		if (sigbus_register(m, 2 * (size_t)page) != 0)
			_exit(3);
		sigbus_unregister(m, 2 * (size_t)page);
	}
	if (ftruncate(fd, 0) != 0)
		_exit(3);
	unlink(path);
	(void)peek(m + page);
}

static void
touch_unregistered(void)
{
	touch_truncated(0);
}

static void
touch_unregistered_after_register(void)
{
	touch_truncated(1);
}

static void
sent_sigbus(void)
{
	kill(getpid(), SIGBUS);
}

static void
test_unregistered_fault_still_kills(void **state)
{
	(void)state;
	assert_died_of_sigbus(in_child(touch_unregistered));
	assert_died_of_sigbus(in_child(touch_unregistered_after_register));
	/* a SIGBUS from kill() has no fault address to repair */
	assert_died_of_sigbus(in_child(sent_sigbus));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_file_truncated_while_mapped),
		cmocka_unit_test(test_registered_mapping_reads_zeros),
		cmocka_unit_test(test_register_rejects_nonsense),
		cmocka_unit_test(test_unregistered_fault_still_kills),
	};
	int rc;

	page = sysconf(_SC_PAGESIZE);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sigbus.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (sigbus_install() != 0) {
		perror("sigbus_install");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rc;
}
