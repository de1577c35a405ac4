/**
 * Words, names and sentences for the generated mail. Each language's text only uses characters its
 * legacy charset has (Latin-1 for fr/de, KOI8-R for ru, JIS X 0208 for ja), so a message can be
 * written in that charset as well as in UTF-8. `misc` is UTF-8-only text (Greek, Chinese, emoji,
 * typographic quotes, €).
 */

export type Language = 'en' | 'fr' | 'de' | 'ru' | 'ja' | 'misc';

export const FIRST_NAMES: Record<Language, readonly string[]> = {
  en: ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Niaj', 'Olivia', 'Peggy', 'Rupert', 'Sybil', 'Trent', 'Victor', 'Walter', 'Wendy', 'Zach', 'Brian', 'Kevin', 'Laura', 'Megan', 'Nathan', 'Patrick', 'Rachel', 'Steve', 'Tom', 'Chris', 'Dan', 'Emily', 'George', 'Hannah', 'Jack', 'Karen', 'Linda', 'Mark', 'Nancy', 'Paul', 'Sarah'],
  fr: ['François', 'Hélène', 'Céline', 'Jérôme', 'Amélie', 'Loïc', 'Noël', 'Gaëlle', 'Benoît', 'Éric', 'Anaïs', 'Cécile', 'Frédéric', 'Josée', 'Marie', 'Pierre', 'Julien', 'Sébastien', 'Agnès', 'Thérèse'],
  de: ['Jürgen', 'Günter', 'Björn', 'Jörg', 'Käthe', 'Müller', 'Sören', 'Dörte', 'Uwe', 'Heike', 'Klaus', 'Sabine', 'Stefan', 'Ute', 'Wolfgang', 'Ingrid', 'Matthias', 'Brigitte'],
  ru: ['Иван', 'Сергей', 'Ольга', 'Наталья', 'Алексей', 'Дмитрий', 'Екатерина', 'Михаил', 'Татьяна', 'Андрей', 'Юлия', 'Пётр'],
  ja: ['太郎', '花子', '健', '一郎', '美香', '直樹', '裕子', '誠', '恵', '大輔', '由美', '翔太'],
  misc: ['Ζωή', 'Νίκος', '李', '王芳', 'Zoë', 'Ångström', 'Øyvind', 'Łukasz', 'Dvořák', 'Şebnem', 'Nguyễn', 'Renée'],
};

export const LAST_NAMES: Record<Language, readonly string[]> = {
  en: ['Smith', 'Johnson', 'Brown', 'Taylor', 'Miller', 'Wilson', 'Moore', 'Anderson', 'Thomas', 'Jackson', 'White', 'Harris', 'Martin', 'Thompson', 'Garcia', "O'Neil", 'Clark', 'Lewis', 'Walker', 'Hall', 'Young', 'King', 'Wright', 'Hill', 'Green', 'Baker', 'Adams', 'Nelson', 'Carter', 'Mitchell'],
  fr: ['Lefèvre', 'Dupré', 'Bézier', 'Légaré', 'Moreau', 'Lemaître', 'Gauthier', 'Chevalier', 'Béranger', 'Fournier', 'Girard', 'Mercier', 'Rousseau', 'Bonnet'],
  de: ['Müller', 'Schäfer', 'Größer', 'Köhler', 'Weiß', 'Schröder', 'Krüger', 'Bäcker', 'Hoffmann', 'Fischer', 'Wagner', 'Becker'],
  ru: ['Петров', 'Иванов', 'Смирнов', 'Кузнецов', 'Попов', 'Соколов', 'Лебедев', 'Козлов', 'Новиков', 'Морозов'],
  ja: ['山田', '田中', '佐藤', '鈴木', '高橋', '渡辺', '伊藤', '中村', '小林', '加藤'],
  misc: ['Παπαδόπουλος', '张伟', 'Åström', 'Nørgaard', 'Wałęsa', 'Čapek', 'Yılmaz', 'Trần', 'Fañez'],
};

/** ASCII spellings used in the address local part. */
export const TRANSLIT: Record<string, string> = {
  ä: 'ae', ö: 'oe', ü: 'ue', ß: 'ss', é: 'e', è: 'e', ê: 'e', ë: 'e', à: 'a', â: 'a', ç: 'c', î: 'i', ï: 'i', ô: 'o', û: 'u', ù: 'u', ñ: 'n', å: 'a', ø: 'o', ł: 'l', č: 'c', ş: 's', ı: 'i', ễ: 'e', ř: 'r', ą: 'a', ę: 'e',
};

export const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'cs.example.edu', 'isp.example.net', 'example.co.uk', 'example.de', 'example.fr', 'example.jp', 'example.ru', 'uni-example.de', 'freemail.example', 'corp.example.com', 'lab.example.org', 'users.example.net'];

export const LANGUAGE_DOMAINS: Partial<Record<Language, readonly string[]>> = {
  fr: ['example.fr', 'exemple.fr', 'example.be', 'example.ca', 'example.ch'],
  de: ['example.de', 'beispiel.de', 'uni-example.de', 'example.at'],
  ru: ['example.ru', 'primer.ru', 'example.by'],
  ja: ['example.jp', 'example.co.jp', 'ac.example.jp'],
};

const EN_NOUNS = ['build', 'patch', 'release', 'config file', 'parser', 'mailbox', 'test suite', 'installer', 'cache', 'database', 'scheduler', 'plugin', 'documentation', 'API', 'web interface', 'backup script', 'cron job', 'mirror', 'tarball', 'changelog', 'bug tracker', 'regression', 'memory leak', 'timeout', 'locale', 'encoding', 'header', 'benchmark', 'makefile', 'compiler warning', 'segfault', 'logfile', 'queue runner', 'archive', 'index', 'stylesheet', 'translation', 'wiki page', 'roadmap', 'server'];
const EN_VERBS = ['break', 'fix', 'rewrite', 'test', 'review', 'merge', 'revert', 'document', 'profile', 'deprecate', 'backport', 'simplify', 'package', 'benchmark', 'refactor', 'clean up', 'upgrade', 'move'];
const EN_ADJ = ['old', 'new', 'broken', 'experimental', 'stable', 'nightly', 'upstream', 'obvious', 'tricky', 'slow', 'faster', 'legacy', 'current', 'default', 'optional', 'odd'];
const EN_PLACES = ['on Solaris', 'on FreeBSD', 'on the build farm', 'in production', 'on my laptop', 'under Python 2.7', 'with the latest compiler', 'on ARM', 'on Windows', 'behind the proxy', 'since the last release', 'in the trunk', 'on the stable branch'];

const EN_TEMPLATES: ReadonlyArray<(w: (xs: readonly string[]) => string) => string> = [
  (w) => `I think the ${w(EN_NOUNS)} should ${w(EN_VERBS)} cleanly ${w(EN_PLACES)}.`,
  (w) => `Has anyone tried to ${w(EN_VERBS)} the ${w(EN_ADJ)} ${w(EN_NOUNS)} ${w(EN_PLACES)}?`,
  (w) => `The ${w(EN_ADJ)} ${w(EN_NOUNS)} still fails ${w(EN_PLACES)}, see the log below.`,
  (w) => `We could ${w(EN_VERBS)} the ${w(EN_NOUNS)} first and ${w(EN_VERBS)} the ${w(EN_NOUNS)} later.`,
  (w) => `That is a good point about the ${w(EN_NOUNS)}.`,
  (w) => `I would rather not ${w(EN_VERBS)} the ${w(EN_NOUNS)} before the release.`,
  (w) => `Attached is a first attempt; it is ${w(EN_ADJ)} but it works ${w(EN_PLACES)}.`,
  (w) => `Thanks, applied to the ${w(EN_ADJ)} branch.`,
  (w) => `As far as I know nobody uses the ${w(EN_ADJ)} ${w(EN_NOUNS)} any more.`,
  (w) => `Can you send the output of the ${w(EN_NOUNS)} with debugging turned on?`,
  (w) => `The ${w(EN_NOUNS)} and the ${w(EN_NOUNS)} disagree about the ${w(EN_NOUNS)}.`,
  (w) => `Please ${w(EN_VERBS)} the ${w(EN_NOUNS)} and report back to the list.`,
  (w) => `I can confirm this ${w(EN_PLACES)}.`,
  (w) => `It seems the ${w(EN_NOUNS)} was never meant to ${w(EN_VERBS)} that way.`,
  (w) => `+1 from me, as long as we ${w(EN_VERBS)} the ${w(EN_NOUNS)} too.`,
  (w) => `Sorry for the late reply, I was away ${w(EN_PLACES)}.`,
  (w) => `The fix is trivial once you know where the ${w(EN_NOUNS)} lives.`,
  (w) => `Does the ${w(EN_ADJ)} ${w(EN_NOUNS)} handle non-ASCII names correctly?`,
];

/**
 * Body lines that begin with "From " in ordinary prose. Mailman's Generator writes them as
 * ">From "; an imported legacy mbox may still hold them unescaped.
 */
export const FROM_PROSE: readonly string[] = [
  'From what I can tell, the patch is still needed.',
  'From the logs it looks like every message is split in two.',
  'From my point of view this is ready to merge.',
  'From now on please use the new address.',
  'From the 1.0 release notes:',
  'From here on, everything is part of the same thread.',
  'From 2.0 onwards the option is on by default.',
];

const FR_SENTENCES = [
  "Je pense que la nouvelle version règle le problème d'encodage.",
  'Merci pour ta réponse rapide, ça marche très bien chez moi.',
  "Est-ce que quelqu'un a déjà essayé la compilation sous Windows ?",
  'La réunion aura lieu mardi prochain à la médiathèque.',
  "Voici le compte rendu de la dernière réunion, n'hésitez pas à le corriger.",
  'Le fichier de configuration a changé depuis la version précédente.',
  "À mon avis, il faudrait d'abord mettre à jour la documentation.",
  "J'ai trouvé une erreur dans la traduction française du manuel.",
  'Pouvez-vous envoyer le journal complet ? Sans cela difficile de deviner.',
  'Bonne année à tous et merci pour votre aide cette année !',
  "C'est déjà corrigé dans la branche de développement.",
  "L'ordre du jour est en pièce jointe.",
  'Désolé pour le retard, je suis rentré de congés hier.',
  'Les accents posent toujours problème dans les en-têtes.',
];

const DE_SENTENCES = [
  'Ich habe den Fehler gestern Abend gefunden und einen Patch geschickt.',
  'Über die Größe der Binärdateien sollten wir noch einmal sprechen.',
  'Vielen Dank für die schnelle Antwort, das hat geholfen.',
  'Die Übersetzung ist fast fertig, nur die Hilfeseiten fehlen noch.',
  'Gibt es schon einen Termin für das nächste Treffen?',
  'Bei mir läuft der Build unter Debian ohne Probleme durch.',
  'Könnt ihr das bitte noch einmal mit der aktuellen Version prüfen?',
  'Die Umlaute im Betreff werden falsch dargestellt.',
  'Schöne Grüße aus München und ein schönes Wochenende.',
  'Das Problem tritt nur auf, wenn die Datei größer als zwei Gigabyte ist.',
  'Ich würde vorschlagen, die alte Schnittstelle zu entfernen.',
  'Außerdem fehlt in der Anleitung ein Hinweis auf die Abhängigkeiten.',
];

const RU_SENTENCES = [
  'Добрый день, коллеги!',
  'Спасибо за быстрый ответ, всё заработало.',
  'У меня та же проблема с кодировкой в заголовках.',
  'Новая версия собирается без ошибок на моём сервере.',
  'Подскажите, пожалуйста, где найти документацию на русском языке?',
  'Я отправил исправление в список рассылки разработчиков.',
  'Встреча состоится в четверг в семь часов вечера.',
  'Проверьте, пожалуйста, настройки почтового клиента.',
  'Кажется, это ошибка в старой версии библиотеки.',
  'Файл с журналом прилагаю к этому письму.',
  'С уважением и наилучшими пожеланиями.',
  'Перевод интерфейса почти закончен.',
];

const JA_SENTENCES = [
  'よろしくお願いします。',
  'お世話になっております。',
  '新しいバージョンをリリースしました。',
  '文字化けの問題はまだ解決していません。',
  'ビルドが失敗する原因を調べています。',
  '来週の勉強会の資料を添付します。',
  'ご意見があればこのメーリングリストまでお知らせください。',
  '設定ファイルの書き方が変わりました。',
  '日本語の件名が正しく表示されないようです。',
  'この件については、以前にも議論がありました。',
  '詳しい手順はウィキに書いておきました。',
  '修正版を試していただけますか。',
  '忘年会の日程が決まりました。',
  '返信が遅くなってすみません。',
];

const MISC_SENTENCES = [
  'The “smart quotes” in the changelog break the old parser.',
  'Η νέα έκδοση δουλεύει μια χαρά.',
  '我们已经修复了这个问题。',
  'Kaffe och kanelbulle på fredag? ☕',
  'The conference fee is 120 € per person.',
  'Ça coûte 15 € — c’est raisonnable.',
  'Zoë Ångström fixed the build on Øresund’s servers.',
  'Thanks! 👍 Merged into main.',
  'Привет из Москвы — всё работает 🙂',
  '日本語とEnglishが混在しています。',
];

export const SENTENCES: Record<Exclude<Language, 'en'>, readonly string[]> = {
  fr: FR_SENTENCES,
  de: DE_SENTENCES,
  ru: RU_SENTENCES,
  ja: JA_SENTENCES,
  misc: MISC_SENTENCES,
};

/** An English sentence built from templates, using `pick` for every slot. */
export function englishSentence(pick: <T>(xs: readonly T[]) => T): string {
  const template = pick(EN_TEMPLATES);
  return template((xs) => pick(xs));
}

const EN_TOPICS = ['Build failures', 'Release planning', 'Patch review', 'Mailing list migration', 'Encoding problems', 'Documentation update', 'Meeting notes', 'Security advisory', 'Website redesign', 'Test suite', 'Packaging', 'Roadmap', 'Performance regression', 'Translation status', 'Server maintenance', 'Bug triage', 'Code of conduct', 'Licensing question', 'Installer', 'Config file format'];
const EN_TOPIC_TAILS = ['', '', '', ' on ARM', ' for 2.0', ' in trunk', ' (urgent)', ' - summary', ' again', ' under Windows', ' next week', ' for the stable branch'];

export const SUBJECTS: Record<Exclude<Language, 'en'>, readonly string[]> = {
  fr: ['Première réunion', 'Compte rendu', 'Ordre du jour', 'Bonne année', 'Problème de compilation', 'Traduction française', 'Question sur la configuration', 'Mise à jour de la documentation', 'Été 2005 : rencontre'],
  de: ['Übersetzung fertig', 'Größe der Binärdateien', 'Treffen nächste Woche', 'Frage zur Konfiguration', 'Fehler beim Übersetzen', 'Umlaute im Betreff', 'Schöne Grüße'],
  ru: ['Проблема с кодировкой', 'Новая версия', 'Встреча в четверг', 'Вопрос по настройке', 'Перевод интерфейса', 'Ошибка сборки'],
  ja: ['初めまして', '忘年会のお知らせ', '文字化けについて', '新バージョンのリリース', 'ビルドの失敗', '勉強会の資料', '設定ファイルについて'],
  misc: ['Καλημέρα', '问题已修复', 'Fika på fredag ☕', 'Conference fee €', 'Zoë’s patch', '🎉 Release 2.0'],
};

export function englishSubject(pick: <T>(xs: readonly T[]) => T): string {
  return pick(EN_TOPICS) + pick(EN_TOPIC_TAILS);
}

export const SIGNATURES: readonly string[] = [
  '',
  '',
  'Cheers',
  'Regards',
  'Thanks',
  'Best regards',
  'HTH',
];

/** Latin-1 bytes that end up raw in Subject headers of old mailers (no RFC 2047). */
export const RAW_SUBJECTS_LATIN1: readonly string[] = ['Réunion de décembre', 'Dernière question avant les fêtes', 'Grüße aus Köln', 'Año nuevo'];
