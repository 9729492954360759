/* main.c - replaced by the lifecycle work of issue 2 (in progress). */
#include <stdio.h>
#include "version.h"
int main(void)
{
	printf("denverd %s\n", DENVERD_VERSION);
	return 0;
}
