/* denverctl.c - replaced by the control work of issue 2 (in progress). */
#include <stdio.h>
#include "version.h"
int main(void)
{
	printf("denverctl %s\n", DENVERD_VERSION);
	return 0;
}
