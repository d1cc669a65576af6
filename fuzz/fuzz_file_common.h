/*
 * fuzz_file_common — for fuzz targets whose parser reads a file: a
 * private temporary directory per process and a helper that writes the
 * input to a path in it.
 */
#ifndef TERN_FUZZ_FILE_COMMON_H
#define TERN_FUZZ_FILE_COMMON_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_file_dir[256];

static const char *fuzz_file_tmpdir(void)
{
	if (fuzz_file_dir[0] == '\0') {
		snprintf(fuzz_file_dir, sizeof fuzz_file_dir, "/tmp/tern-fuzz-XXXXXX");
		if (mkdtemp(fuzz_file_dir) == NULL)
			abort();
	}
	return fuzz_file_dir;
}

/* Write data to DIR/rel (directories made as needed, mode 0600). */
static void fuzz_file_write(const char *rel, const uint8_t *data, size_t size)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", fuzz_file_tmpdir(), rel);
	for (char *p = path + strlen(fuzz_file_dir) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

#endif
