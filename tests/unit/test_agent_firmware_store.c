/*
 * The agent's firmware storage on a private directory: the state store
 * (round trip, corrupt file refused, atomic under kill -9), the A/B slots
 * (prepare, switch, switch under kill -9, default install, hooks with exit
 * codes and timeout) and the image (a piece with a wrong digest is not
 * written; streaming decryption accepts the right image and refuses a
 * tampered piece, a wrong tag or a wrong digest, leaving no staging file).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "services/agent/agent_firmware_fs.h"
#include "services/agent/agent_firmware_image.h"
#include "services/agent/agent_firmware_slots.h"
#include "services/agent/agent_firmware_state.h"

static char dir[64];
static char err[600];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/sms-fwstore-test.XXXXXX");
	sms_log_init("test_agent_firmware_store", LOG_LEVEL_ERROR);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return fw_fs_remove_tree(dir, err, sizeof err);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* ------------------------------------------------------------ state */

static void state_round_trip(void **state)
{
	fw_state st, back;
	char names[4][FW_PACKAGE_MAX + 1];
	size_t n;

	(void)state;
	assert_int_equal(fw_state_load(dir, "fm-controller", &st, err, sizeof err), 0);
	assert_int_equal(st.installed, 0);
	assert_int_equal(st.rollout.phase, FW_PHASE_NONE);
	st.installed = 41;
	st.highest_seen = 42;
	st.rollout.phase = FW_PHASE_DOWNLOADING;
	st.rollout.id = 17;
	st.rollout.version = 42;
	snprintf(st.rollout.release, sizeof st.rollout.release, "fm-controller-42");
	st.rollout.n_pieces = 13;
	fw_state_set_piece(&st, 0);
	fw_state_set_piece(&st, 9);
	fw_state_set_piece(&st, 12);
	assert_int_equal(fw_state_save(dir, &st, err, sizeof err), 0);
	assert_int_equal(fw_state_load(dir, "fm-controller", &back, err, sizeof err), 0);
	assert_int_equal(back.installed, 41);
	assert_int_equal(back.highest_seen, 42);
	assert_int_equal(back.rollout.phase, FW_PHASE_DOWNLOADING);
	assert_int_equal(back.rollout.id, 17);
	assert_string_equal(back.rollout.release, "fm-controller-42");
	assert_int_equal(fw_state_pieces_held(&back), 3);
	assert_true(fw_state_has_piece(&back, 9));
	assert_false(fw_state_has_piece(&back, 8));

	back.rollout.phase = FW_PHASE_SWITCHED;
	back.rollout.slot_from = 'a';
	back.rollout.slot_to = 'b';
	assert_int_equal(fw_state_save(dir, &back, err, sizeof err), 0);
	assert_int_equal(fw_state_load(dir, "fm-controller", &st, err, sizeof err), 0);
	assert_int_equal(st.rollout.slot_from, 'a');
	assert_int_equal(st.rollout.slot_to, 'b');

	fw_state_finish(&st, "failed", "badFirmware", 32, "health check failed");
	assert_int_equal(st.rollout.phase, FW_PHASE_NONE);
	assert_int_equal(fw_state_save(dir, &st, err, sizeof err), 0);
	assert_int_equal(fw_state_load(dir, "fm-controller", &back, err, sizeof err), 0);
	assert_int_equal(back.last.id, 17);
	assert_string_equal(back.last.state, "failed");
	assert_string_equal(back.last.code, "badFirmware");
	assert_int_equal(back.last.code_value, 32);
	assert_int_equal(back.rollout.phase, FW_PHASE_NONE);

	assert_int_equal(fw_state_list(dir, names, 4, &n, err, sizeof err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "fm-controller");
}

static void state_refuses_bad_input(void **state)
{
	fw_state st;
	char path[128];

	(void)state;
	assert_int_equal(fw_state_load(dir, "../etc", &st, err, sizeof err), -1);
	assert_int_equal(fw_state_load(dir, "Upper", &st, err, sizeof err), -1);
	snprintf(path, sizeof path, "%s/boot.json", dir);
	write_file(path, "{\"format\":1,\"package\":\"boot\",\"installed\":");
	assert_int_equal(fw_state_load(dir, "boot", &st, err, sizeof err), -1);
	assert_non_null(strstr(err, "move it aside"));
	/* Another package's file under this name. */
	write_file(path, "{\"format\":1,\"package\":\"other\",\"installed\":1,\"highest_seen\":1,\"rollout\":null,"
	           "\"last\":null}");
	assert_int_equal(fw_state_load(dir, "boot", &st, err, sizeof err), -1);
	write_file(path, "{\"format\":1,\"package\":\"boot\",\"installed\":1,\"highest_seen\":3,\"rollout\":null,"
	           "\"last\":null}");
	assert_int_equal(fw_state_load(dir, "boot", &st, err, sizeof err), 0);
	assert_int_equal(st.highest_seen, 3);
}

/* A child saves versions 1, 2, 3, ... as fast as it can; SIGKILL at a random
 * moment must leave a file that loads, with the installed version equal to
 * highest_seen (both written in the same save). */
static void state_survives_kill(void **state)
{
	struct timespec ts;
	fw_state st;
	pid_t pid;
	int round, status;
	long long last = 0;

	(void)state;
	for (round = 0; round < 20; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			fw_state s;

			memset(&s, 0, sizeof s);
			if (fw_state_load(dir, "kill", &s, err, sizeof err) != 0)
				_exit(2);
			for (;;) {
				s.installed++;
				s.highest_seen = s.installed;
				if (fw_state_save(dir, &s, err, sizeof err) != 0)
					_exit(3);
			}
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(1 + rand() % 20) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(fw_state_load(dir, "kill", &st, err, sizeof err), 0);
		assert_int_equal(st.installed, st.highest_seen);
		assert_true(st.installed >= last);
		last = st.installed;
	}
	assert_true(last > 0);
}

/* ------------------------------------------------------------ slots */

static void slots_prepare_and_switch(void **state)
{
	char sd[128], path[160];
	struct stat sb;

	(void)state;
	snprintf(sd, sizeof sd, "%s/slots", dir);
	assert_int_equal(fw_slots_prepare(sd, err, sizeof err), 0);
	assert_int_equal(fw_slots_current(sd, err, sizeof err), 'a');
	snprintf(path, sizeof path, "%s/b", sd);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(fw_slots_switch(sd, 'b', err, sizeof err), 0);
	assert_int_equal(fw_slots_current(sd, err, sizeof err), 'b');
	/* prepare again keeps what is current */
	assert_int_equal(fw_slots_prepare(sd, err, sizeof err), 0);
	assert_int_equal(fw_slots_current(sd, err, sizeof err), 'b');
	assert_int_equal(fw_slots_other('b'), 'a');
	/* a current that is not ours is refused, not replaced */
	snprintf(path, sizeof path, "%s/current", sd);
	unlink(path);
	assert_int_equal(symlink("/etc", path), 0);
	assert_int_equal(fw_slots_current(sd, err, sizeof err), 0);
	assert_int_equal(fw_slots_prepare(sd, err, sizeof err), -1);
}

static void slots_switch_survives_kill(void **state)
{
	char sd[128];
	struct timespec ts;
	pid_t pid;
	int round, status;
	char c;

	(void)state;
	snprintf(sd, sizeof sd, "%s/slots", dir);
	assert_int_equal(fw_slots_prepare(sd, err, sizeof err), 0);
	for (round = 0; round < 20; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (c = 'a';; c = fw_slots_other(c))
				if (fw_slots_switch(sd, c, err, sizeof err) != 0)
					_exit(3);
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(1 + rand() % 10) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		c = fw_slots_current(sd, err, sizeof err);
		assert_true(c == 'a' || c == 'b');
	}
}

static void slots_install_and_hooks(void **state)
{
	char sd[128], image[160], hook[160], path[200], text[32] = { 0 };
	FILE *f;

	(void)state;
	snprintf(sd, sizeof sd, "%s/slots", dir);
	snprintf(image, sizeof image, "%s/image.bin", dir);
	write_file(image, "IMAGE v42");
	assert_int_equal(fw_slots_prepare(sd, err, sizeof err), 0);
	assert_int_equal(fw_slots_install(sd, 'b', image, NULL, 10, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/b/image", sd);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	assert_string_equal(text, "IMAGE v42");
	snprintf(path, sizeof path, "%s/a/image", sd);
	assert_int_equal(access(path, F_OK), -1);

	/* A hook gets IMAGE SLOTDIR; its exit code decides. */
	snprintf(hook, sizeof hook, "%s/hook.sh", dir);
	write_file(hook, "#!/bin/sh\ncp \"$1\" \"$2/by-hook\" && exit \"${HOOK_RC:-0}\"\n");
	chmod(hook, 0755);
	assert_int_equal(fw_slots_install(sd, 'a', image, hook, 10, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/a/by-hook", sd);
	assert_int_equal(access(path, F_OK), 0);
	setenv("HOOK_RC", "3", 1);
	assert_int_equal(fw_slots_install(sd, 'a', image, hook, 10, err, sizeof err), -1);
	assert_non_null(strstr(err, "exited with 3"));
	unsetenv("HOOK_RC");

	/* The health hook gets the current slot's directory. */
	write_file(hook, "#!/bin/sh\ncase \"$1\" in */b) exit 0;; *) exit 1;; esac\n");
	assert_int_equal(fw_slots_health(sd, hook, 10, err, sizeof err), -1);
	assert_int_equal(fw_slots_switch(sd, 'b', err, sizeof err), 0);
	assert_int_equal(fw_slots_health(sd, hook, 10, err, sizeof err), 0);
	assert_int_equal(fw_slots_health(sd, NULL, 10, err, sizeof err), 0);

	/* A hook that hangs is killed after its timeout. */
	write_file(hook, "#!/bin/sh\nexec sleep 30\n");
	assert_int_equal(fw_slots_health(sd, hook, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "killed after 1 s"));
}

/* ------------------------------------------------------------ image */

#define IMG_SIZE (300 * 1024 + 17)
#define PIECE 65536

typedef struct {
	unsigned char key[32];
	unsigned char *pt, *ct;
	fw_manifest m;
} test_image;

static void make_image(test_image *t, const char *aad)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l;
	unsigned int dl;
	size_t i;

	t->pt = malloc(IMG_SIZE);
	t->ct = malloc(IMG_SIZE);
	assert_non_null(t->pt);
	assert_non_null(t->ct);
	assert_int_equal(RAND_bytes(t->pt, IMG_SIZE), 1);
	assert_int_equal(RAND_bytes(t->key, 32), 1);
	memset(&t->m, 0, sizeof t->m);
	snprintf(t->m.release, sizeof t->m.release, "%s", aad);
	t->m.size = IMG_SIZE;
	t->m.piece_size = PIECE;
	t->m.n_pieces = (IMG_SIZE + PIECE - 1) / PIECE;
	t->m.pieces = calloc(t->m.n_pieces, FW_DIGEST_LEN);
	assert_non_null(t->m.pieces);
	assert_int_equal(RAND_bytes(t->m.nonce, 12), 1);
	assert_int_equal(EVP_Digest(t->pt, IMG_SIZE, t->m.sha256, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, t->key, t->m.nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &l, (const unsigned char *)aad, (int)strlen(aad)), 1);
	assert_int_equal(EVP_EncryptUpdate(c, t->ct, &l, t->pt, IMG_SIZE), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, t->ct + l, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, t->m.tag), 1);
	EVP_CIPHER_CTX_free(c);
	for (i = 0; i < t->m.n_pieces; i++)
		assert_int_equal(EVP_Digest(t->ct + i * PIECE, fw_manifest_piece_len(&t->m, i), t->m.pieces[i], &dl,
		                            EVP_sha256(), NULL), 1);
}

static void store_pieces(const test_image *t, const char *wd)
{
	unsigned int i;

	for (i = 0; i < t->m.n_pieces; i++)
		assert_int_equal(fw_piece_store(wd, &t->m, i, t->ct + (size_t)i * PIECE, fw_manifest_piece_len(&t->m, i),
		                                err, sizeof err), FW_IMAGE_OK);
}

static void image_decrypts_and_refuses(void **state)
{
	test_image t;
	char wd[128], staging[160], path[200];
	unsigned char bad;
	FILE *f;

	(void)state;
	snprintf(wd, sizeof wd, "%s/work", dir);
	snprintf(staging, sizeof staging, "%s/staged", dir);
	assert_int_equal(fw_fs_mkdirs(wd, err, sizeof err), 0);
	make_image(&t, "pkg-7");
	/* A piece that is not the manifest's is never written. */
	t.ct[10] ^= 1;
	assert_int_equal(fw_piece_store(wd, &t.m, 0, t.ct, PIECE, err, sizeof err), FW_IMAGE_MISMATCH);
	t.ct[10] ^= 1;
	assert_int_equal(fw_piece_store(wd, &t.m, 0, t.ct, PIECE - 1, err, sizeof err), FW_IMAGE_MISMATCH);
	snprintf(path, sizeof path, "%s/piece.0", wd);
	assert_int_equal(access(path, F_OK), -1);
	store_pieces(&t, wd);

	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_OK);
	assert_int_equal(fw_image_check(staging, t.m.sha256, err, sizeof err), FW_IMAGE_OK);
	unlink(staging);

	/* Another release id (AAD), key, tag or digest: refused, nothing staged. */
	snprintf(t.m.release, sizeof t.m.release, "pkg-8");
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_TAG);
	snprintf(t.m.release, sizeof t.m.release, "pkg-7");
	t.key[0] ^= 1;
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_TAG);
	t.key[0] ^= 1;
	t.m.tag[3] ^= 1;
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_TAG);
	t.m.tag[3] ^= 1;
	t.m.sha256[5] ^= 1;
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_DIGEST);
	t.m.sha256[5] ^= 1;
	t.m.size = IMG_SIZE + 1;
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_SIZE);
	t.m.size = IMG_SIZE;
	/* A piece changed on disk after its check: the tag catches it. */
	snprintf(path, sizeof path, "%s/piece.2", wd);
	f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, 100, SEEK_SET), 0);
	bad = (unsigned char)fgetc(f);
	assert_int_equal(fseek(f, 100, SEEK_SET), 0);
	fputc(bad ^ 0x40, f);
	fclose(f);
	assert_int_equal(fw_image_decrypt(wd, &t.m, t.key, staging, err, sizeof err), FW_IMAGE_TAG);
	assert_int_equal(access(staging, F_OK), -1);
	snprintf(path, sizeof path, "%s.tmp", staging);
	assert_int_equal(access(path, F_OK), -1);
	free(t.pt);
	free(t.ct);
	free(t.m.pieces);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(state_refuses_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(state_survives_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_prepare_and_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_switch_survives_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_install_and_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(image_decrypts_and_refuses, setup, teardown),
	};

	srand((unsigned int)time(NULL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
