# bash completion for denverctl(1)                        -*- shell-script -*-
#
# Commands and options complete from the table below (keep it in step with
# the option tables of ctl/cmd_*.c, which `denverctl COMMAND --help` prints;
# tests/integration/test_ctl.py compares the two); DATASET arguments
# complete from the names the running daemon reports (`denverctl --json
# status`), so they are always current.  After the command only its own
# options are offered, though the global ones are accepted there too.

_denverctl_datasets()
{
	local sock=()
	[[ -n $1 ]] && sock=(-s "$1")
	denverctl "${sock[@]}" --json status 2>/dev/null |
		command grep -o '"name": *"[a-z0-9_]*"' |
		command sed 's/.*"\([a-z0-9_]*\)"$/\1/' | sort -u
}

_denverctl()
{
	local cur prev words cword
	_init_completion || return

	local commands="status version reload runs show trigger backfill retry
		cancel pause resume schedule watch dq diff promote purge metrics alerts report
		source"
	local global_opts="-s --socket -j --json -h --help -V --version"

	# Find the command word and the socket option, which may come before or
	# after it (global options go anywhere, denverctl(1)).  Words after the
	# command that are not options are its operands or option values.
	local i cmd="" sock=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket)
			sock=${words[i + 1]}; ((i++))
			# bash splits --socket=PATH into "--socket" "=" "PATH"
			[[ $sock == = ]] && { sock=${words[i + 1]}; ((i++)); }
			;;
		--socket=*) sock=${words[i]#--socket=} ;;
		-*) ;;
		*) [[ -z $cmd ]] && cmd=${words[i]} ;;
		esac
	done

	case $prev in
	-s | --socket | -o | --output)
		_filedir
		return
		;;
	--dataset)
		COMPREPLY=($(compgen -W "$(_denverctl_datasets "$sock")" -- "$cur"))
		return
		;;
	--state)
		COMPREPLY=($(compgen -W "queued running succeeded failed unchanged
			skipped cancelled" -- "$cur"))
		return
		;;
	--date | --from | --to | --limit | --next | --runs | --reason | --before)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts=""
	local takes_dataset=""
	case $cmd in
	runs) opts+=" --dataset --state --limit" ;;
	trigger) opts+=" --date --wait --force"; takes_dataset=1 ;;
	backfill) opts+=" --from --to"; takes_dataset=1 ;;
	pause | resume | source) takes_dataset=1 ;;
	schedule) opts+=" --next"; takes_dataset=1 ;;
	alerts) opts+=" --dataset --limit" ;;
	metrics) opts+=" -o --output" ;;
	dq) opts+=" --runs"; takes_dataset=1 ;;
	diff) opts+=" --date"; takes_dataset=1 ;;
	promote) opts+=" --reason" ;;
	purge) opts+=" --before --yes"; takes_dataset=1 ;;
	report) opts+=" --date" ;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ -n $takes_dataset ]]; then
		COMPREPLY=($(compgen -W "$(_denverctl_datasets "$sock")" -- "$cur"))
	fi
} &&
	complete -F _denverctl denverctl

# ex: filetype=sh
