#!/usr/bin/env python3
"""Removes each rule of the acceptance path once and checks that the unit tests catch it.

    scripts/mutate-rules.py            # prints a table: rule removed -> the tests that failed
    scripts/mutate-rules.py --check    # static only: each mutation's text occurs once in its file

Works on a scratch worktree of HEAD (never on your files) with its own target dir under
$HOME/.cache/countersign, and runs only the pure crates' unit tests (ledger, report), where the
rules live. A mutation whose text is not found once is reported, so a rule moved in the code
shows up here instead of passing silently.

--check builds and runs nothing: it reads the files of your working tree and exits non-zero,
naming each offender, if some mutation's old text does not occur exactly once in the file it
names (moved, reworded or duplicated by a refactor). Run it after moving code on the
acceptance path; a failure means an entry's path or text needs updating to where the rule
now lives, not removing.
"""
import subprocess, sys, os, tempfile
repo = subprocess.run(['git', 'rev-parse', '--show-toplevel'], capture_output=True, text=True, check=True).stdout.strip()
L='crates/ledger/src/'; R='crates/report/src/'
M=[
 ("report: a link names one of the report's bound images", R+'links.rs', "        if !bound.iter().any(|b| b.eq_ignore_ascii_case(&l.image)) {", "        if false && !bound.iter().any(|b| b.eq_ignore_ascii_case(&l.image)) {"),
 ("report: a link is of the report's study", R+'links.rs', "        if l.study != report_study {", "        if false && l.study != report_study {"),
 ("report: every [fig N] of the text resolves to a link", R+'links.rs', "        .find(|f| !links.iter().any(|l| l.fig == **f))", "        .find(|_| false)"),
 ("report: every link is referred to by the text", R+'links.rs', "    if let Some(l) = links.iter().find(|l| !referred.contains(&l.fig)) {", "    if let Some(l) = links.iter().find(|_| false) {"),
 ("report: at most 16 links a section", R+'links.rs', "    if links.len() > MAX_LINKS_PER_SECTION {", "    if false && links.len() > MAX_LINKS_PER_SECTION {"),
 ("report: a length shows exactly its measurement", R+'links.rs', "    if !m.image.eq_ignore_ascii_case(&l.image) || m.frame != l.frame || l.points != [m.from, m.to] {", "    if false {"),
 ("report: a version's links are judged", R+'log/check/mod.rs', "                self.check_links(parents, w)", "                { let _ = w; Ok(()) }"),
 ("payload hash", L+'rules.rs', "if found != header.payload_hash {", "if false && found != header.payload_hash {"),
 ("genesis with network", L+'rules.rs', "        return Err(RuleError::GenesisWithNetwork);", "        let _ = RuleError::GenesisWithNetwork;"),
 ("wrong network", L+'rules.rs', "    if entry.network_id() != network {", "    if false && entry.network_id() != network {"),
 ("genesis with log", L+'rules.rs', "            return Err(RuleError::GenesisWithLog);", "            let _ = RuleError::GenesisWithLog;"),
 ("genesis with parents", L+'rules.rs', "            return Err(RuleError::GenesisWithParents);", "            let _ = RuleError::GenesisWithParents;"),
 ("genesis seq", L+'rules.rs', "            return Err(RuleError::GenesisSeq { found: h.seq });", "            let _ = h.seq;"),
 ("no parents", L+'rules.rs', "        return Err(RuleError::NoParents);", "        let _ = RuleError::NoParents;"),
 ("log family", L+'rules.rs', "if kind.family() != family {", "if false && kind.family() != family {"),
 ("timestamp before parent", L+'dag.rs', "if h.timestamp_ms.saturating_add(TIMESTAMP_TOLERANCE_MS) < p.timestamp_ms {", "if false && h.timestamp_ms.saturating_add(TIMESTAMP_TOLERANCE_MS) < p.timestamp_ms {"),
 ("author chain", L+'dag.rs', "if reached + 1 != h.seq {", "if false && reached + 1 != h.seq {"),
 ("roster: admin in the entry's past", L+'roster/judge.rs', "let Some((_, author_rank)) = grant_in_past(author) else {", "let Some((_, author_rank)) = grant_in_past(author).or(Some((EntryId::default(), 0))) else {"),
 ("roster: rank of the latest grant", L+'roster/resolve.rs', ".max_by_key(|(_, r)| *r)", ".min_by_key(|(_, r)| *r)"),
 ("roster: a fork does not undo a revocation", L+'roster/judge.rs', "        if !matches!(item.parsed, Parsed::Revoke(_)) {\n            if let Some(seq) = self.frozen_from", "        if true {\n            if let Some(seq) = self.frozen_from"),
 ("roster: a frozen admin's revocation vouches for nothing", L+'roster/resolve.rs', "            if self.frozen_at(id) {\n                change.frontier", "            if false && self.frozen_at(id) {\n                change.frontier"),
 ("roster: a frozen admin's revocation does not govern", L+'roster/resolve.rs', "                    .filter(|_| !self.frozen_at(id))\n                    .unwrap_or(u32::MAX);", "                    .filter(|_| true)\n                    .unwrap_or(u32::MAX);"),
 ("roster: a revocation is judged against the roster so far too", L+'roster/judge.rs', "let target_admin = admin_in_past(&p.key).or(now_admin(roster, &p.key));", "let target_admin = admin_in_past(&p.key);"),
 ("roster: a demotion is not refused for a concurrent revocation", L+'roster/judge.rs', "                if let Some(revocation) = revoked_by(&p.key).filter(|_| !demotes) {\n", "                if let Some(revocation) = revoked_by(&p.key) {\n"),
 ("roster: a change is amended at its author's rank when made", L+'roster/judge.rs', "                    check_senior(by, made_at, author_rank)?;", "                    check_senior(by, admin_in_past(by), author_rank)?;"),
 ("roster: a frozen governing author's revocation is the most senior standing admin's to amend (attach)", L+'roster/resolve.rs', "                                standing.is_none_or(|r| by_rank <= r)", "                                true"),
 ("roster: a revoked key's entry needs the revocation's cover", L+'roster/resolved.rs', "            if !covers(revocation) {", "            if false && !covers(revocation) {"),
 ("roster: a readmission into the governing revocation needs seniority", L+'roster/resolve.rs', "                                by_rank < g_rank\n", "                                true\n"),
 ("roster: a revocation ranks as its author did when made", L+'roster/resolve.rs', "                let by = made_at\n                    .get(id)\n                    .copied()", "                let by = roster\n                    .members\n                    .get(&item.author)\n                    .and_then(|m| m.seniority)"),
 ("roster: a change to an admin is judged against the roster so far", L+'roster/judge.rs', "                    check_senior(&p.key, target_admin.or(now_admin), author_rank)?;", "                    check_senior(&p.key, target_admin, author_rank)?;"),
 ("roster: a freeze that changes nothing is a no-op", L+'roster.rs', "        if *at <= seq {\n            // Already frozen", "        if false && *at <= seq {\n            // Already frozen"),
 ("report: withdrawn needs an attending's authority for the entry", R+'log/summary.rs', "withdrawn = self.role_of(e, roster).ok() == Some(Role::Attending);", "withdrawn = roster.history(&e.author).iter().any(|c| c.role == Some(Role::Attending));"),
 ("roster: an equivocating author's decisions are the most senior standing admin's to amend", L+'roster/judge.rs', "                            .is_some_and(|r| author_rank > r)\n", "                            .is_some_and(|r| author_rank > r && false)\n"),
 ("roster: beside a revocation a demotion only takes away", L+'roster/judge.rs', "                if demotes && revoked_by(&p.key).is_some() {", "                if false && demotes && revoked_by(&p.key).is_some() {"),
 ("roster: a stale change does not clear an admin flag it did not see", L+'roster/judge.rs', "let keeps_admin = !p.admin && target_admin.is_none() && now_admin.is_some();", "let keeps_admin = false && !p.admin && target_admin.is_none() && now_admin.is_some();"),
 ("roster: a readmission into a change needs seniority over later narrowings", L+'roster/judge.rs', "                    changes.iter().skip_while(|(c, _)| *c != change).collect()", "                    changes.iter().filter(|(c, _)| *c == change).collect()"),
 ("roster: the most senior revocation governs", L+'roster/resolve.rs', "                    .and_modify(|g| *g = (*g).min(key))", "                    .and_modify(|g| *g = (*g).max(key))"),
 ("roster: a junior admin changes no admin", L+'roster/judge.rs', "                } else if p.key != *author {\n                    check_senior", "                } else if false && p.key != *author {\n                    check_senior"),
 ("roster: readmit amends only what took authority away", L+'roster/judge.rs', "if self.dag.in_past(c, id) && takes_away(before, after) {", "if self.dag.in_past(c, id) {"),
 ("roster: readmit needs the change author's seniority", L+'roster/judge.rs', "                    if by == author {\n                        continue;\n                    }", "                    if by == author || true {\n                        continue;\n                    }"),
 ("roster: a grant of a key already an admin counts (not masked by a concurrent grant)", L+'roster/judge.rs', "                    return Ok(Effect::Regrant { key: p.key, rank });", "                    let _ = rank; return Ok(Effect::None);"),
 ("roster: a rotation sees any admission of its old key in its past", L+'roster/judge.rs', "                    .is_some_and(|h| h.iter().any(|(c, _)| self.dag.in_past(c, id)));", "                    .is_some_and(|h| h.iter().take(1).any(|(c, _)| self.dag.in_past(c, id)));"),
 ("roster: a grant beside a demotion it had not seen does not undo it", L+'roster/judge.rs', "                let contested = p.admin\n", "                let contested = false && p.admin\n"),
 ("roster: an admission or a change as of the entry's own past", L+'roster/judge.rs', "                    .flatten()\n                    .any(|(c, _)| self.dag.in_past(c, id));", "                    .flatten()\n                    .any(|_| true);"),
 ("roster: of concurrent changes of a key's details the most senior author's is in force", L+'roster/details.rs', "        .min_by_key(|i| (latest[*i].1, latest[*i].0))", "        .max_by_key(|i| *i)"),
 ("roster: the change in force goes last in the key's history", L+'roster/resolve.rs', "            history.insert(last.max(at), change);", "            history.insert(at, change);"),
 ("roster: a change that lost to a concurrent senior one decides nothing", 'crates/ledger/src/roster/resolved.rs', "            .filter(|(id, _)| !self.overridden.contains(id))", "            .filter(|(id, _)| true || !self.overridden.contains(id))"),
 ("roster: a removal removing nothing goes out of force", L+'roster/resolve.rs', "            let still = accepted.contains(id);", "            let still = true || accepted.contains(id);"),
 ("roster: only a senior admin removes an admin", L+'roster/authority.rs', "Some(rank) if rank <= author_rank => Err(RosterError::NotSenior {", "Some(rank) if false && rank <= author_rank => Err(RosterError::NotSenior {"),
 ("roster: nobody removes themselves", L+'roster/authority.rs', "    if author == target {", "    if false && author == target {"),
 ("roster: entries outside a removal's frontier", L+'roster/judge.rs', "        if let Some(revocation) = outside {", "        if let Some(revocation) = outside.filter(|_| false) {"),
 ("roster: a revoked key is not admitted again", L+'roster/judge.rs', "                if let Some(revocation) = revoked_by(&p.key).filter(|_| !demotes) {", "                if let Some(revocation) = revoked_by(&p.key).filter(|_| false) {"),
 ("roster: readmit amends a change in its past", L+'roster/judge.rs', "                        .find(|(c, _)| *c == named)\n                        .copied(),", "                        .next()\n                        .copied()\n                        .map(|_| (named, *author)),"),
 ("roster: readmit attaches to role changes too", L+'roster/judge.rs', "                    for pair in h.windows(2) {", "                    for pair in h.windows(usize::MAX) {"),
 ("roster: frontier covers what it vouches for", L+'roster/resolved.rs', "            if covers(change) {", "            if false && covers(change) {"),
 ("report: a refused report's entries", R+'log/check/mod.rs', "if e.kind != Kind::ReportCreate && !self.is_accepted() {", "if false && e.kind != Kind::ReportCreate && !self.is_accepted() {"),
 ("report: frozen authors", R+'log/check/mod.rs', "if let Some(&seq) = frozen.get(&e.author).filter(|s| **s <= e.seq) {", "if let Some(&seq) = frozen.get(&e.author).filter(|s| false && **s <= e.seq) {"),
 ("report: self co-sign", R+'log/check/mod.rs', "if version.author == e.author {", "if false && version.author == e.author {"),
 ("report: already final", R+'log/check/mod.rs', "                    return Err(ReportRuleError::AlreadyFinal { final_entry });", "                    let _ = final_entry;"),
 ("report: only an attending finalises", R+'log/check/mod.rs', "if role != Role::Attending {", "if false && role != Role::Attending {"),
 ("report: AI writes need a grant", R+'log/check/mod.rs', "if !self.granted(&e.author, parents) {", "if false && !self.granted(&e.author, parents) {"),
 ("report: addendum needs a final", R+'log/check/mod.rs', "None => Err(ReportRuleError::NotFinal),", "None => Ok(()),"),
 ("report: creators by policy", R+'log/check/mod.rs', "if !allowed.contains(&role) {", "if false && !allowed.contains(&role) {"),
 ("report: published template accepted", R+'log/check/mod.rs', "_ => Err(ReportRuleError::TemplateNotAccepted { publish }),", "_ => Ok(()),"),
 ("report: resolve needs a conflict", R+'log/check/signoff.rs', "if in_force.len() < 2 {", "if false && in_force.len() < 2 {"),
 ("report: nobody keeps their own sign-off", R+'log/check/signoff.rs', "            .is_some_and(|f| f.author == *resolver)", "            .is_some_and(|f| false && f.author == *resolver)"),
 ("report: a concurrent access revocation withholds", R+'log/check/sections.rs', "        any && all_grants", "        any && (all_grants || true)"),
 ("report: withdrawn, not draft", R+'log/summary.rs', "(0, _, _) if withdrawn => ReportState::Withdrawn,", "(0, _, _) if false => ReportState::Withdrawn,"),
 ("report: coverage names current versions", R+'log/check/signoff.rs', "let Some(version) = covered.filter(|v| latest.contains(v)) else {", "let Some(version) = covered else {"),
 ("report: co-sign by the template's role", R+'log/check/signoff.rs', "if !signed_by(role) {", "if false && !signed_by(role) {"),
 ("report: resident countersignature", R+'log/check/signoff.rs', "if written_role == Some(Role::Resident) && !countersigned {", "if false && written_role == Some(Role::Resident) && !countersigned {"),
 ("report: required fields at sign-off", R+'log/check/signoff.rs', ".find(|f| f.required && !w.fields.contains_key(&f.name))", ".find(|f| false && f.required && !w.fields.contains_key(&f.name))"),
 ("report: nothing but addenda after final", R+'log/check/mod.rs', "fn refuse_after_final(final_in_past: Option<EntryId>) -> Result<(), ReportRuleError> {\n    match final_in_past {", "fn refuse_after_final(final_in_past: Option<EntryId>) -> Result<(), ReportRuleError> {\n    match final_in_past.filter(|_| false) {"),
 ("accept: entries from the future are held", R+'accept/mod.rs', "if h.timestamp_ms > now_ms.saturating_add(TIME_SKEW_MS) {", "if false && h.timestamp_ms > now_ms.saturating_add(TIME_SKEW_MS) {"),
 ("accept: unknown authors are not stored", R+'accept/mod.rs', "        if !named {", "        if false && !named {"),
 ("accept: a key any roster entry names is kept", R+'accept/mod.rs', "|| self.roster.as_ref().is_some_and(|r| r.names(&h.author));", "|| self.roster.as_ref().is_some_and(|r| r.roster().is_active(&h.author));"),
 ("accept: only an entry that fits is fork evidence", R+'accept/report.rs', "                    self.refine_unknown_parent(report.dag().check(entry), entry)?;\n                    return Ok(self.fork_or_duplicate(entry, first));", "                    return Ok(self.fork_or_duplicate(entry, first));"),
 ("accept: the clock after the clockless checks", R+'accept/mod.rs', "        // Never named on the roster at all (not merely revoked): nothing to keep, or hold.\n        let named", "        if let Some(now_ms) = now_ms.filter(|n| h.timestamp_ms > n.saturating_add(TIME_SKEW_MS)) { return Ok(Verdict::Held { until_ms: now_ms }); }\n        let named"),
 ("accept: a template binds to the accepted publication", R+'accept/templates.rs', "            .filter(|(id, _)| matches!(roster.status(id), Some(Ok(()))))\n            .min_by_key", "            .filter(|(id, _)| matches!(roster.status(id), Some(Ok(()))) && false)\n            .min_by_key"),
 ("report: sign-off refuses an unfilled AutoText field", R+'log/check/mod.rs', "                self.check_filled(parents, &s.sections, roster)", "                { let _ = (parents, roster); Ok(()) }"),
 ("report: a write names only known, applicable macros", R+'log/check/mod.rs', "                self.check_macros(w, roster)?;", "                let _ = roster;"),
 ("report: only the named macros' fields are unfilled", R+'macros/mod.rs', "if names.contains(&p.name) && !out.contains(&p.name) {", "if !out.contains(&p.name) {"),
 ("report: a parent held in another loaded log is named as such", R+'accept/place.rs', "            self.held_in.insert(entry.id(), log);", "            let _ = log;"),
 ("report: an unloaded log's entries leave the index of where entries are", R+'accept/holdings.rs', "            self.held_in.remove(id);", "            let _ = id;"),
]
if sys.argv[1:] == ['--check']:
    bad = 0
    for name, path, old, new in M:
        try:
            n = open(os.path.join(repo, path)).read().count(old)
        except FileNotFoundError:
            n = None
        if n != 1:
            bad += 1
            print(f'{name}: {path}: ' + ('no such file' if n is None else f'old text occurs {n} times, not once'), file=sys.stderr)
    print(f'{len(M) - bad} of {len(M)} mutations find their text once', file=sys.stderr)
    sys.exit(1 if bad else 0)
elif sys.argv[1:]:
    sys.exit(__doc__)
scratch = tempfile.mkdtemp(prefix='countersign-mutate-')
subprocess.run(['git', '-C', repo, 'worktree', 'add', '-q', '--detach', scratch, 'HEAD'], check=True)
os.chdir(scratch)
env=dict(os.environ, CARGO_TARGET_DIR=os.path.expanduser('~/.cache/countersign/target-mut'))
results=[]
for name, path, old, new in M:
    src=open(path).read()
    if src.count(old)!=1:
        results.append((name,'MUTATION NOT APPLIED (text not found once)')); print(name, 'NOT FOUND', file=sys.stderr, flush=True); continue
    open(path,'w').write(src.replace(old,new))
    try:
        r=subprocess.run(['cargo','test','-q','-p','countersign-ledger','-p','countersign-report','--lib'],env=env,capture_output=True,text=True,timeout=900)
        out=r.stdout+r.stderr
        if r.returncode==0:
            verdict='NOT CAUGHT'
        elif 'error[' in out and 'test result' not in out:
            verdict='DOES NOT COMPILE'
        else:
            lines=out.splitlines()
            failed=[]
            for i,l in enumerate(lines):
                if l.strip()=='failures:' and i+1<len(lines) and lines[i+1].startswith('    '):
                    j=i+1
                    while j<len(lines) and lines[j].startswith('    '):
                        failed.append(lines[j].strip()); j+=1
            verdict='caught by '+', '.join(failed[:4])+(' …' if len(failed)>4 else '')
    finally:
        open(path,'w').write(src)
    results.append((name,verdict)); print(name,'->',verdict,file=sys.stderr,flush=True)
subprocess.run(['git', '-C', repo, 'worktree', 'remove', '--force', scratch], check=False)
print('| rule removed | result |\n|---|---|')
for n, v in results:
    print(f'| {n} | {v} |')
sys.exit(1 if any(not v.startswith('caught') for _, v in results) else 0)
